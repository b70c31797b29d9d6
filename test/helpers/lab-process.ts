import { execFile, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { nftTableOf } from '../../src/lab/index.js';
import { CLI_PATH } from './paths.js';

const run = promisify(execFile);

export const hasHaproxy = spawnSync('haproxy', ['-v']).status === 0;
export const skipWithoutHaproxy: false | string = hasHaproxy ? false : 'haproxy is not installed (apt-get install -y haproxy)';

/** Runs the real CLI to its end; never throws for a non-zero exit. */
export async function zonelab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_PATH, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A file of /proc/<pid>/, or '' when the process is gone. */
function procFile(pid: number, name: string): string {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return '';
  }
}

/** Whether a process runs (a zombie does not count). */
export function alive(pid: number | null): boolean {
  if (pid === null) return false;
  const stat = procFile(pid, 'stat');
  return stat !== '' && stat.split(') ')[1]?.[0] !== 'Z';
}

/** Every folder under `root` that holds a lab's state file (a lab started there, running or left). */
export function labDirsUnder(root: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(root, { recursive: true }) as string[];
  } catch {
    return [];
  }
  return entries.filter((entry) => basename(entry) === 'state.json').map((entry) => join(root, dirname(entry)));
}

/**
 * For a test's after(): brings down every lab under `root` (and in `more`) with `zonelab
 * lab down` (its processes, whoever started them, and its nftables table), then removes
 * any table lab down did not (a killed run's, say). Whatever a test did or failed to do,
 * nothing of its labs runs afterwards; and when cleaning up had to undo what lab down
 * should have (a failed lab down, a table left behind), it throws after cleaning, saying
 * what: a teardown that fails is a defect, not noise.
 */
export async function endLabsUnder(root: string, more: readonly string[] = []): Promise<void> {
  const running = labDirsUnder(root);
  const problems: string[] = [];
  for (const dir of new Set([...running, ...more])) {
    const down = await zonelab('lab', 'down', '--dir', dir);
    // A folder whose lab is gone already says so and exits 0.
    if (down.code !== 0) problems.push(`lab down --dir ${dir} failed: ${down.stderr.trim()}`);
  }
  for (const dir of new Set([...running, ...more, ...labFolders(root)])) {
    const table = nftTableOf(dir);
    if (spawnSync('nft', ['list', 'table', 'inet', table], { stdio: 'ignore' }).status !== 0) continue;
    problems.push(`nftables table ${table} of ${dir} outlived its lab`);
    spawnSync('nft', ['delete', 'table', 'inet', table]);
  }
  if (problems.length > 0) throw new Error(`after the tests: ${problems.join('; ')}`);
}

/** Folders named `lab` under `root` (where failover runs keep their labs). */
function labFolders(root: string): string[] {
  try {
    return (readdirSync(root, { recursive: true }) as string[]).filter((entry) => basename(entry) === 'lab').map((entry) => join(root, entry));
  } catch {
    return [];
  }
}

/** Every pid a lab's state file names: its load balancer's processes, the audit, the servers. */
export async function labPids(dir: string): Promise<number[]> {
  const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'));
  const balancer = (state.lb?.processes ?? []).map((p: { pid: number | null }) => p.pid);
  return [...balancer, state.audit.pid, ...state.servers.map((s: { pid: number }) => s.pid)].filter((pid) => pid !== null);
}

/** Resident memory of a process in KiB, from /proc (null when it is gone). */
export function rssKiB(pid: number): number | null {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(procFile(pid, 'status'));
  return match ? Number(match[1]) : null;
}
