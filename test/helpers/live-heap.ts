import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './wait.js';

/**
 * The Node.js options that let `liveHeapBytes` ask a child process for its live heap:
 * SIGUSR2 makes it write a heap snapshot into `dir`. Both options are allowed in
 * NODE_OPTIONS (https://nodejs.org/api/cli.html#--heapsnapshot-signalsignal).
 */
export function liveHeapNodeOptions(dir: string): string {
  return `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[] } };
  nodes: number[];
}

/**
 * The bytes of every object still reachable in a child process started with
 * `liveHeapNodeOptions(dir)`. V8 collects all garbage before it writes a snapshot, so this
 * is what the process holds, not how much heap it has committed: resident memory also
 * counts heap V8 has grown and not yet handed back, which depends on how busy the machine
 * was and is no measure of a leak. The snapshot is read once whole (its JSON parses) and
 * then deleted.
 */
export async function liveHeapBytes(pid: number, dir: string, timeoutMs = 30_000): Promise<number> {
  const existing = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  let snapshot: HeapSnapshot | undefined;
  await waitFor(
    () => {
      const file = readdirSync(dir).find((name) => name.endsWith('.heapsnapshot') && !existing.has(name));
      if (!file) return false;
      try {
        // A snapshot still being written ends before its closing brace and does not parse.
        snapshot = JSON.parse(readFileSync(join(dir, file), 'utf8')) as HeapSnapshot;
      } catch {
        return false;
      }
      rmSync(join(dir, file));
      return true;
    },
    timeoutMs,
    `a heap snapshot from process ${pid} in ${dir}`,
  );
  const fields = snapshot!.snapshot.meta.node_fields;
  const selfSize = fields.indexOf('self_size');
  let bytes = 0;
  for (let at = selfSize; at < snapshot!.nodes.length; at += fields.length) bytes += snapshot!.nodes[at]!;
  return bytes;
}
