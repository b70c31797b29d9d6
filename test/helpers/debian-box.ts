import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A Debian 12 machine in a box, for tests: a root file system made by debootstrap (cached
 * outside the repository, it takes about a minute to build), booted by systemd-nspawn with
 * its own systemd as PID 1 (systemd 252, what Debian 12 on Compute Engine runs), entered
 * with nsenter. Each boot writes to a tmpfs over the cached tree (--volatile=overlay), so
 * the cache stays clean. Needs root, debootstrap and systemd-container.
 */

/**
 * Packages beyond debootstrap's minimal base: systemd as init and what a startup script
 * uses; the GCE Debian 12 image has all of these. No compilers, as on that image: a VM
 * installs nothing native (Node.js 24's own node:sqlite holds the outbox). libatomic1:
 * the units test runs the test's own Node.js in a box, and Node.js 26's binary links it
 * (24's does not).
 */
const PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'curl', 'ca-certificates', 'xz-utils', 'procps', 'iproute2', 'sudo', 'python3', 'libatomic1'];
const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';

/** Where the root file system is kept between runs: $ZONELAB_CACHE or /var/cache/zonelab. */
export function boxCacheDir(): string {
  return process.env.ZONELAB_CACHE ?? '/var/cache/zonelab';
}

function rootfsPath(): string {
  const key = createHash('sha256').update([SUITE, MIRROR, ...PACKAGES].join(' ')).digest('hex').slice(0, 12);
  return join(boxCacheDir(), `debian12-${key}`);
}

function has(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
}

/** Why boxes cannot run here, or null when they can. */
export function boxUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'booting a Debian box needs root (systemd-nspawn)';
  if (!has('systemd-nspawn')) return 'systemd-nspawn is not installed (apt-get install systemd-container)';
  if (!existsSync(join(rootfsPath(), 'usr/lib/systemd/systemd')) && !has('debootstrap')) {
    return `no cached Debian 12 root file system at ${rootfsPath()} and debootstrap is not installed to build one`;
  }
  return null;
}

/**
 * The cached root file system, built first when missing. Concurrent builders each build
 * into a folder of their own; the first to finish renames it into place.
 */
export async function ensureRootfs(onLine: (line: string) => void = () => {}): Promise<string> {
  const target = rootfsPath();
  if (existsSync(join(target, 'usr/lib/systemd/systemd'))) return target;
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  onLine(`building a Debian 12 root file system in ${target} (about a minute, once)`);
  try {
    await run('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, SUITE, partial, MIRROR], { maxBuffer: 64 * 1024 * 1024 });
    // A box's journal stays in memory; the host's machine id is not the box's.
    await writeFile(join(partial, 'etc/machine-id'), '');
    await rename(partial, target).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      await rm(partial, { recursive: true, force: true });
    });
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
  return target;
}

/**
 * A disk of a box's own that lasts across its boots: an overlay whose lower layer is the
 * cached root file system and whose upper layer is a folder of the caller's.
 */
export interface BoxDisk {
  /** The merged tree: boot from it, and write files into it before the first boot. */
  readonly root: string;
  /** Unmounts the overlay and deletes its layers. */
  remove(): Promise<void>;
}

export async function createBoxDisk(folder: string): Promise<BoxDisk> {
  const lower = await ensureRootfs();
  const [upper, work, root] = ['upper', 'work', 'root'].map((name) => join(folder, name)) as [string, string, string];
  await Promise.all([upper, work, root].map((dir) => mkdir(dir, { recursive: true })));
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, root]);
  return {
    root,
    remove: async () => {
      await run('umount', [root]).catch(async () => run('umount', ['-l', root]));
      await rm(folder, { recursive: true, force: true });
    },
  };
}

export interface BoxBind {
  /** Path on this machine. */
  host: string;
  /** Path inside the box. */
  box: string;
  readOnly?: boolean;
}

export interface BoxOptions {
  /** Machine name (the box's hostname). */
  name: string;
  binds?: BoxBind[];
  /**
   * A root file system of the box's own (say an overlay over the cached one), kept across
   * boots. Default: the cached one with a tmpfs over it, gone at power-off.
   */
  directory?: string;
  /** How long the boot may take until systemd says it has finished (boot jobs included); default 60 s. */
  bootTimeoutMs?: number;
  /** More to say when the boot does not finish in time (a unit's journal, say). */
  diagnose?: (exec: Box['exec']) => Promise<string>;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Box {
  readonly name: string;
  /** The PID of the box's systemd, on this machine. */
  readonly pid: number;
  /** Runs a program inside the box (all its namespaces), as root. */
  exec(argv: string[], options?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** A path inside the box, as this machine sees it (through /proc/<pid>/root). */
  path(inside: string): string;
  writeFile(inside: string, content: string, mode?: number): Promise<void>;
  /** Powers the box off (systemd shuts down) and waits until nspawn has exited. */
  close(): Promise<void>;
}

/** Boots a box and resolves once its systemd says the boot is finished. */
export async function bootBox(options: BoxOptions): Promise<Box> {
  const root = options.directory ? ['--directory', options.directory] : [`--directory=${await ensureRootfs()}`, '--volatile=overlay'];
  const args = [
    '--quiet', '--keep-unit', '--register=no', '--boot', ...root, '--console=pipe',
    `--machine=${options.name}`,
    ...(options.binds ?? []).map((bind) => `--${bind.readOnly ? 'bind-ro' : 'bind'}=${bind.host}:${bind.box}`),
  ];
  // A cgroup of the box's own: with --keep-unit nspawn runs the box in the cgroup it was
  // started in, and boxes that shared one would have their systemds manage the same units
  // (a `systemctl kill` in one would reach the other's processes). It also tells which
  // processes are the box's when they must be killed.
  await reapOrphanBoxes();
  const cgroups = await createBoxCgroups(options.name);
  const nspawn: ChildProcess = spawn('sh', ['-c', 'for dir in $BOX_CGROUPS; do echo $$ > "$dir/cgroup.procs"; done; exec systemd-nspawn "$@"', 'sh', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BOX_CGROUPS: cgroups.join(' ') },
  });
  let output = '';
  nspawn.stdout!.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  nspawn.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) => nspawn.on('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const bootTimeoutMs = options.bootTimeoutMs ?? 60_000;
  const deadline = Date.now() + bootTimeoutMs;
  let pid = 0;
  try {
    // The box's PID 1 is nspawn's child running systemd.
    while (pid === 0) {
      if (gone) throw new Error(`systemd-nspawn exited during boot: ${output.trim()}`);
      if (Date.now() > deadline) throw new Error(`the box did not start within ${bootTimeoutMs / 1000} s: ${output.trim()}`);
      pid = await childSystemd(nspawn.pid!);
      if (pid === 0) await sleep(50);
    }
  } catch (error) {
    nspawn.kill('SIGKILL');
    await exited;
    await killAndRemoveCgroups(cgroups);
    throw error;
  }

  const exec: Box['exec'] = (argv, execOptions = {}) =>
    new Promise((resolve) => {
      const child = spawn('nsenter', ['-t', String(pid), '-a', ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), execOptions.timeoutMs ?? 60_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      });
      // A program that does not read its input may exit first: that is not an error here.
      child.stdin.on('error', () => {});
      child.stdin.end(execOptions.input ?? '');
    });

  const box: Box = {
    name: options.name,
    pid,
    exec,
    path: (inside) => join(`/proc/${pid}/root`, inside),
    writeFile: async (inside, content, mode = 0o644) => {
      const result = await exec(['sh', '-c', `mkdir -p "$(dirname "$1")" && cat > "$1" && chmod ${mode.toString(8)} "$1"`, 'sh', inside], { input: content });
      if (result.code !== 0) throw new Error(`writing ${inside} in box ${options.name}: ${result.stderr}`);
    },
    close: async () => {
      if (gone) return;
      nspawn.kill('SIGTERM'); // nspawn asks the box's systemd to power off
      const timer = new AbortController();
      const stopped = await Promise.race([exited.then(() => true), sleep(20_000, false, { signal: timer.signal }).catch(() => false)]);
      timer.abort();
      if (!stopped) {
        nspawn.kill('SIGKILL');
        await exited;
      }
      // A killed nspawn leaves the box's own processes running: they go too, before the
      // caller deletes the box's disk under them.
      await killAndRemoveCgroups(cgroups);
    },
  };
  // is-system-running --wait returns once the boot job queue is empty: "running", or
  // "degraded" when a unit of the base system failed (which tests do not care about).
  // Until systemd has opened its control socket, systemctl cannot connect, or finds it
  // "offline" (not yet running as the system manager): ask again.
  const early = (result: ExecResult) => /Failed to connect to bus/.test(result.stderr) || result.stdout.trim() === 'offline';
  let booted = await exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: bootTimeoutMs });
  while (early(booted) && Date.now() < deadline) {
    await sleep(50);
    booted = await exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: Math.max(1000, deadline - Date.now()) });
  }
  if (!/^(running|degraded)\s*$/.test(booted.stdout)) {
    // What was still running, for the message: the boot's unfinished jobs and the processes.
    const jobs = (await exec(['systemctl', 'list-jobs', '--no-pager'], { timeoutMs: 5000 })).stdout.trim();
    const processes = (await exec(['ps', '-e', '-o', 'pid,etime,args', '--forest'], { timeoutMs: 5000 })).stdout.trim();
    const diagnosis = options.diagnose ? await options.diagnose(exec).catch((error: Error) => error.message) : '';
    await box.close();
    throw new Error(
      `the box ${options.name} did not finish booting within ${bootTimeoutMs / 1000} s: ${booted.stdout.trim()} ${booted.stderr.trim()}\n` +
        `jobs:\n${jobs}\nprocesses:\n${processes}${diagnosis ? `\n${diagnosis}` : ''}`,
    );
  }
  return box;
}

let boxes = 0;

/** A new cgroup (one per hierarchy systemd uses: the unified one, and name=systemd on a hybrid host) for a box. */
async function createBoxCgroups(name: string): Promise<string[]> {
  const leaf = `zonelab-box-${name}-${process.pid}-${++boxes}`;
  const hierarchies = existsSync('/sys/fs/cgroup/cgroup.controllers')
    ? ['/sys/fs/cgroup']
    : ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((dir) => existsSync(dir));
  const dirs = hierarchies.map((hierarchy) => join(hierarchy, leaf));
  for (const dir of dirs) await mkdir(dir);
  return dirs;
}

/** Every process in a cgroup and the cgroups below it. */
async function processesIn(dir: string): Promise<number[]> {
  const own = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
  const children = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const below = await Promise.all(children.filter((child) => child.isDirectory()).map((child) => processesIn(join(dir, child.name))));
  return [...own, ...below.flat()];
}

/** Kills whatever still runs in a box's cgroups, waits until they are empty, and removes them. */
async function killAndRemoveCgroups(dirs: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const left = (await Promise.all(dirs.map(processesIn))).flat();
    if (left.length === 0 || Date.now() > deadline) break;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await sleep(50);
  }
  const removeTree = async (dir: string): Promise<void> => {
    const children = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const child of children) if (child.isDirectory()) await removeTree(join(dir, child.name));
    await rmdir(dir).catch(() => {});
  };
  for (const dir of dirs) await removeTree(dir);
}

/**
 * Boxes whose test process is gone (killed before it could power them off) still run:
 * their cgroups are named after that process, which is how they are found and ended.
 */
export async function reapOrphanBoxes(): Promise<void> {
  for (const hierarchy of ['/sys/fs/cgroup', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified']) {
    for (const entry of await readdir(hierarchy).catch(() => [] as string[])) {
      const owner = /^zonelab-box-.*-(\d+)-\d+$/.exec(entry)?.[1];
      if (owner === undefined || existsSync(`/proc/${owner}`)) continue;
      await killAndRemoveCgroups([join(hierarchy, entry)]);
    }
  }
}

async function childSystemd(parent: number): Promise<number> {
  for (const task of await readdir(`/proc/${parent}/task`).catch(() => [] as string[])) {
    const children = (await readFile(`/proc/${parent}/task/${task}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean);
    for (const child of children) {
      const comm = (await readFile(`/proc/${child}/comm`, 'utf8').catch(() => '')).trim();
      if (comm === 'systemd') return Number(child);
    }
  }
  return 0;
}
