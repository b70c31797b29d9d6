import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { stateFile } from './state.js';

/** A lab found from its running processes, whatever started it and whatever became of that. */
export interface FoundLab {
  dir: string;
  /** Its processes still running, as `haproxy (pid 812)`. */
  processes: { pid: number; name: string }[];
}

/**
 * The lab folder a process belongs to, or null. Every process a lab starts writes its
 * output to a log inside the lab's folder (`<lab>/logs/<server>.log`, `<lab>/lb/…`), so its
 * standard output names the lab even after the supervisor that knew it was killed (kill -9)
 * and whatever title the process gave itself. A folder counts only when it holds a lab
 * state file that names that very folder.
 */
export function labOfProcess(pid: number, known = new Map<string, boolean>()): string | null {
  for (const fd of [1, 2]) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (!isAbsolute(target)) continue;
    let folder = dirname(target);
    for (let level = 0; level < 3; level++, folder = dirname(folder)) {
      if (isLabFolder(folder, known)) return folder;
    }
  }
  return null;
}

function isLabFolder(folder: string, known: Map<string, boolean>): boolean {
  const cached = known.get(folder);
  if (cached !== undefined) return cached;
  let verdict = false;
  try {
    const state = JSON.parse(readFileSync(stateFile(folder), 'utf8')) as { version?: number; dir?: string; servers?: unknown };
    // /proc gives the folder with its symlinks resolved; the state names it as it was given.
    verdict = state.version === 2 && Array.isArray(state.servers) && typeof state.dir === 'string' && realpathSync(resolve(state.dir)) === realpathSync(folder);
  } catch {
    verdict = false;
  }
  known.set(folder, verdict);
  return verdict;
}

/** The process's name as a user knows it: its title when it is one of ours (`zonelab serve zone-a-vm1`), else its program. */
export function processName(pid: number): string {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return cmdline.startsWith('zonelab ') ? cmdline : readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return 'a process';
  }
}

function ownerOf(pid: string): number | null {
  try {
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return uid === undefined ? null : Number(uid);
  } catch {
    return null;
  }
}

/**
 * Every lab that has a process of this user running, optionally only those under
 * `under`: what `zonelab lab down --all` stops. Read from /proc (Linux).
 */
export function findLabs(under?: string): FoundLab[] {
  const uid = process.getuid?.() ?? null;
  const root = under === undefined ? null : realpathOrSelf(resolve(under));
  const known = new Map<string, boolean>();
  const labs = new Map<string, FoundLab>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid || (uid !== null && ownerOf(pid) !== uid)) continue;
    const dir = labOfProcess(Number(pid), known);
    if (dir === null) continue;
    if (root !== null && !isWithin(root, dir)) continue;
    const lab = labs.get(dir) ?? { dir, processes: [] };
    lab.processes.push({ pid: Number(pid), name: processName(Number(pid)) });
    labs.set(dir, lab);
  }
  return [...labs.values()].sort((a, b) => a.dir.localeCompare(b.dir));
}

function isWithin(root: string, path: string): boolean {
  const rest = relative(root, path);
  return rest !== '..' && !rest.startsWith('../') && !isAbsolute(rest);
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
