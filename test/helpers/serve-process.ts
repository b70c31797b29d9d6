import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI_PATH } from './paths.js';
import { waitFor } from './wait.js';

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** Every JSON log line so far, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line (already seen or future) the predicate accepts. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The pids of the workers started so far (`--workers`), from their start-up lines. */
  workerPids(): number[];
  /** Kills the process (SIGKILL) if it still runs and waits for it, and every worker it started, to be gone. */
  kill(): Promise<void>;
}

let started = 0;

/**
 * Whether a process of that pid is alive. A zombie is not, unless other threads of it are
 * still running: Node's main thread can end first and wait as a zombie while a sibling,
 * sharing its file table, still holds the listening socket (the kernel's "delayed group
 * leader"), so a connection made then is accepted and reset, not refused.
 */
export function processExists(pid: number): boolean {
  try {
    if (!/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return true;
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}

/**
 * Starts `zonelab serve` as a child process on 127.0.0.1 and a free port, and resolves once
 * its start-up line says where it listens. Unless the caller names a metadata server (in
 * `GCE_METADATA_HOST`), the zone and instance are given as the server would find them off
 * Google Cloud ("local", the hostname), so no test ever asks a real metadata server, even
 * on a machine that has one.
 */
export async function startServeProcess(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  // Unless the test names a bus, events go to a database of their own in the temp folder.
  const ownDb = args.includes('--bus') ? null : join(tmpdir(), `zonelab-test-events-${process.pid}-${++started}`);
  const busArgs = ownDb ? ['--bus', `sqlite:${ownDb}`] : [];
  const identityArgs = env.GCE_METADATA_HOST
    ? []
    : [...(args.includes('--zone') ? [] : ['--zone', 'local']), ...(args.includes('--instance') ? [] : ['--instance', hostname()])];
  const child = spawn(process.execPath, [CLI_PATH, 'serve', '--host', '127.0.0.1', '--port', '0', ...busArgs, ...identityArgs, ...args], {
    env: { ...process.env, GCE_METADATA_HOST: '', ZONE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { predicate: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines = createInterface({ input: child.stdout! });
  // Once standard output has closed, no line can come any more.
  const outputEnded = new Promise<void>((resolve) => lines.once('close', resolve));
  lines.on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { unparsed: text };
    }
    logs.push(line);
    for (const waiter of waiters.filter((w) => w.predicate(line))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  function waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 5000) {
    const seen = logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such log line within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      waiters.push({
        predicate,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      outputEnded.then(() => {
        clearTimeout(timer);
        reject(new Error(`serve's output ended (it exited) before such a line; stderr: ${stderr}`));
      });
    });
  }
  // From the primary's start-up line (a worker's own line may come after it) and the lines of workers started again since.
  const workerPids = () => [
    ...new Set([
      ...logs.flatMap((line) => (Array.isArray(line.workerPids) ? (line.workerPids as number[]) : [])),
      ...logs.filter((line) => line.worker !== undefined && typeof line.pid === 'number').map((line) => line.pid as number),
    ]),
  ];
  async function kill() {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    // A worker exits as soon as its primary is gone (node:cluster), but that is its own exit.
    await waitFor(() => workerPids().every((pid) => !processExists(pid)), 5000, 'the workers to exit');
    if (ownDb) await rm(ownDb, { recursive: true, force: true });
  }
  try {
    // The primary's line when there are workers (theirs name their number).
    const started = await waitForLog((line) => typeof line.address === 'string' && line.worker === undefined, 10_000);
    const url = started.address as string;
    return { child, url, port: Number(new URL(url).port), logs, waitForLog, exited, workerPids, kill };
  } catch (error) {
    await kill();
    throw error;
  }
}
