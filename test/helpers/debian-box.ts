import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
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

/** Packages beyond debootstrap's minimal base: systemd as init, and what a startup script uses. */
const PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'curl', 'ca-certificates', 'xz-utils', 'procps', 'iproute2'];
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
  const rootfs = await ensureRootfs();
  const args = [
    '--quiet', '--keep-unit', '--register=no', '--boot', `--directory=${rootfs}`, '--volatile=overlay', '--console=pipe',
    `--machine=${options.name}`,
    ...(options.binds ?? []).map((bind) => `--${bind.readOnly ? 'bind-ro' : 'bind'}=${bind.host}:${bind.box}`),
  ];
  const nspawn: ChildProcess = spawn('systemd-nspawn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  nspawn.stdout!.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  nspawn.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) => nspawn.on('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const deadline = Date.now() + 60_000;
  let pid = 0;
  try {
    // The box's PID 1 is nspawn's child running systemd.
    while (pid === 0) {
      if (gone) throw new Error(`systemd-nspawn exited during boot: ${output.trim()}`);
      if (Date.now() > deadline) throw new Error(`the box did not start within 60 s: ${output.trim()}`);
      pid = await childSystemd(nspawn.pid!);
      if (pid === 0) await sleep(50);
    }
  } catch (error) {
    nspawn.kill('SIGKILL');
    await exited;
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
    },
  };
  // is-system-running --wait returns once the boot job queue is empty: "running", or
  // "degraded" when a unit of the base system failed (which tests do not care about).
  // Until systemd has opened its control socket, systemctl cannot connect: ask again.
  let booted = await exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 60_000 });
  while (/Failed to connect to bus/.test(booted.stderr) && Date.now() < deadline) {
    await sleep(50);
    booted = await exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 60_000 });
  }
  if (!/^(running|degraded)\s*$/.test(booted.stdout)) {
    await box.close();
    throw new Error(`the box did not finish booting: ${booted.stdout.trim()} ${booted.stderr.trim()}`);
  }
  return box;
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
