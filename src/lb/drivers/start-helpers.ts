import { open, readFile } from 'node:fs/promises';
import type { ZonelabError } from '../../errors.js';
import { type LoadBalancer, pause } from './driver.js';

/** Whole lines of an append-only file (a balancer's log) from byte `cursor`, and the cursor after the last. */
export async function readLinesFrom(path: string, cursor: number): Promise<{ lines: string[]; cursor: number }> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    if (size <= cursor) return { lines: [], cursor };
    const buffer = Buffer.alloc(size - cursor);
    await handle.read(buffer, 0, buffer.length, cursor);
    // The file grows while we read it: only whole lines are taken.
    const end = buffer.lastIndexOf(0x0a) + 1;
    return { lines: buffer.subarray(0, end).toString('utf8').split('\n').filter(Boolean), cursor: cursor + end };
  } catch {
    return { lines: [], cursor };
  } finally {
    await handle?.close();
  }
}

/** The last lines of a log, for an error that says why a program stopped. */
export async function readTail(path: string, lines = 5): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => '')).trim().split('\n').slice(-lines).join('\n');
}

/**
 * Polls a balancer that is starting until `ready()`: its program ending first throws
 * `exited(the last lines of its log)`, no readiness within 10 s throws `late()`.
 */
export async function untilStarted(
  balancer: LoadBalancer,
  options: { ready: () => Promise<boolean>; log: string; pollMs: number; exited: (tail: string) => ZonelabError; late: () => ZonelabError },
): Promise<LoadBalancer> {
  for (const deadline = Date.now() + 10_000; ; await pause(options.pollMs)) {
    if (!balancer.running()) throw options.exited(await readTail(options.log));
    if (await options.ready()) return balancer;
    if (Date.now() > deadline) throw options.late();
  }
}
