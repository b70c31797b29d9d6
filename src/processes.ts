import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Starts a process in its own process group with its output appended to `log`, and lets
 * it outlive this one: a Ctrl-C in the terminal reaches only the supervisor, which then
 * stops everything in order, and a detached lab keeps running after `lab up` returns.
 */
export function spawnDetached(command: string, args: string[], log: string, env: NodeJS.ProcessEnv = process.env): number {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${command}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** What a process's command line holds when it is ours: one string, or any of several (its arguments, or the title it gave itself). */
export type Marker = string | readonly string[];

/** Whether `pid` is alive and its command line contains `marker` (guards against reused pids). */
export function isOurs(pid: number | null, marker: Marker): boolean {
  if (pid === null) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && (typeof marker === 'string' ? [marker] : marker).some((text) => cmdline.includes(text));
  } catch {
    return false;
  }
}

/**
 * A process known by its pid and its start time: what follows it to its end once its
 * command line can no longer tell (an exiting process shows an empty one).
 */
export interface ProcessIdentity {
  pid: number;
  startTicks: string;
}

/** The identity of `pid` if it is ours now, else null. */
export function identify(pid: number | null, marker: Marker): ProcessIdentity | null {
  if (pid === null || !isOurs(pid, marker)) return null;
  const stat = procStat(pid);
  return stat === null ? null : { pid, startTicks: stat.startTicks };
}

/**
 * Sends `signal` if the process is ours; returns its identity (taken before the signal, so
 * `untilGone` can follow it to its end), or null if it was not ours.
 */
export function signalIfOurs(pid: number | null, marker: Marker, signal: NodeJS.Signals): ProcessIdentity | null {
  const identity = identify(pid, marker);
  if (identity === null) return null;
  try {
    process.kill(identity.pid, signal);
    return identity;
  } catch {
    return null;
  }
}

/** The state letter and start time (clock ticks after boot) the kernel gives `pid`, or null when there is no such process. */
function procStat(pid: number): { state: string; startTicks: string } | null {
  try {
    // Fields after the command name, which ends with ") " and may itself hold spaces: state is field 3, starttime field 22.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)!.split(' ');
    return { state: fields[0]!, startTicks: fields[19]! };
  } catch {
    return null;
  }
}

/**
 * Waits until the process is gone; false after `timeoutMs`. Once it is known to be ours,
 * it is followed by its pid and start time, not its command line: an exiting process
 * gives up its memory (and /proc shows an empty command line) before it closes its files,
 * so "no longer ours" would come while it still holds its listening sockets.
 */
export async function waitForExit(pid: number, marker: Marker, timeoutMs: number): Promise<boolean> {
  const identity = identify(pid, marker);
  return identity === null || untilGone(identity, timeoutMs);
}

/**
 * Whether the process has closed its files: no such pid, another process under it, or a
 * zombie with no thread left. A multi-threaded process (HAProxy, Node) that is ending can
 * show its main thread as a zombie while another thread, sharing its file table, still
 * holds every socket: the main thread waits as a zombie until its last sibling is gone
 * (the kernel's "delayed group leader"), and /proc/<pid>/task lists the siblings until then.
 */
function hasEnded(pid: number, startTicks: string): boolean {
  const now = procStat(pid);
  if (now === null || now.startTicks !== startTicks) return true;
  if (now.state !== 'Z' && now.state !== 'X') return false;
  try {
    return readdirSync(`/proc/${pid}/task`).length <= 1;
  } catch {
    return true;
  }
}

/**
 * Waits until the process is gone (its last thread included); false after `timeoutMs`.
 * Takes the identity from before a signal: after it, the command line may already be empty
 * while the process still holds its sockets.
 */
export async function untilGone(identity: ProcessIdentity, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasEnded(identity.pid, identity.startTicks)) return true;
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}

/** TERM, then (if still there after `graceMs`) KILL; resolves once it is gone. */
export async function stopProcess(pid: number | null, marker: Marker, graceMs: number): Promise<void> {
  const identity = signalIfOurs(pid, marker, 'SIGTERM');
  if (identity !== null) await stopIdentified(identity, graceMs, false);
}

/**
 * Stops a process known by its identity (`signalIfOurs`): TERM unless already sent, then
 * KILL after `graceMs`; resolves once it is gone, its last thread included.
 */
export async function stopIdentified(identity: ProcessIdentity, graceMs: number, sendTerm = true): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    // Still the same process (same start time), whatever its command line shows now.
    if (procStat(identity.pid)?.startTicks !== identity.startTicks) return;
    try {
      process.kill(identity.pid, name);
    } catch {
      // It ended between the two lines.
    }
  };
  if (sendTerm) signal('SIGTERM');
  if (await untilGone(identity, graceMs)) return;
  signal('SIGKILL');
  await untilGone(identity, 5000);
}
