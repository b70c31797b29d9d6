import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadBalancerSpec } from '../lb/index.js';
import type { BackendStatus, Lab } from './lab.js';
import { stateFile } from './state.js';

/** HAProxy's state of a backend in words, with the spec's thresholds. Pure. */
export function stateInWords(status: string | null, spec: LoadBalancerSpec): string {
  if (status === null) return 'unknown (HAProxy does not answer)';
  const transition = /^(UP|DOWN) (\d+)\/(\d+)$/.exec(status);
  if (transition) {
    return transition[1] === 'UP'
      ? `checks failing (${transition[2]} of ${spec.unhealthyThreshold})`
      : `coming back (${transition[2]} of ${spec.healthyThreshold} checks passed)`;
  }
  if (status === 'UP') return 'serving';
  if (status === 'DOWN') return 'down';
  if (status.startsWith('MAINT')) return 'in maintenance';
  if (status === 'NOLB') return 'draining (no new traffic)';
  return status;
}

/** What the process of a backend is doing, in words, from the lab's state file. Pure. */
export function processInWords(row: Pick<BackendStatus, 'process'> & { server: { fault: string | null } }): string {
  const fault = row.server.fault;
  if (row.process === 'stopped') return fault ? `stopped (${fault})` : 'stopped';
  if (row.process === 'paused') return 'frozen (stop)';
  return fault ? `running, fault ${fault}` : 'running';
}

/** One line: how the last second's connections split between zones (null when there were none). Pure. */
export function splitLine(served: ReadonlyMap<string, number>): string | null {
  const total = [...served.values()].reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const parts = [...served.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([zone, n]) => `${zone} ${n} (${Math.round((n / total) * 100)}%)`);
  return `HAProxy sent in the last second: ${parts.join(', ')}`;
}

export interface WatchOptions {
  signal: AbortSignal;
  /** Prints one line (the caller adds nothing but a newline). */
  print: (line: string) => void;
  /** How often states are read, ms; default 250. */
  intervalMs?: number;
}

function clock(): string {
  return new Date().toISOString().slice(11, 23);
}

/**
 * The foreground lab's terminal: a line for every change of a backend's HAProxy state and
 * of its process (stopped, started, faulted, healed, by whichever command or page did it),
 * and each second the split per zone of the connections HAProxy handed out (its own
 * counters, so any client's traffic counts). Resolves `'signal'` when stopped, or
 * `'down-elsewhere'` once the lab's state file is gone (`lab down` from another shell).
 */
export async function watchLab(lab: Lab, options: WatchOptions): Promise<'signal' | 'down-elsewhere'> {
  const intervalMs = options.intervalMs ?? 250;
  const lbState = new Map<string, string | null>();
  const processState = new Map<string, string>();
  const sessions = new Map<string, number>();
  const served = new Map<string, number>();
  let lastSplit = Date.now();
  let first = true;
  while (!options.signal.aborted) {
    if (!existsSync(stateFile(lab.state.dir))) return 'down-elsewhere';
    let rows: BackendStatus[];
    try {
      rows = await lab.status();
    } catch {
      // The state file vanished between the check and the read: down elsewhere.
      if (!existsSync(stateFile(lab.state.dir))) return 'down-elsewhere';
      rows = [];
    }
    if (lab.state.stopping) return 'down-elsewhere';
    for (const row of rows) {
      const name = `${row.server.name} (${row.server.zone})`;
      const process = processInWords(row);
      if (!first && processState.get(row.server.name) !== process) options.print(`${clock()} ${name} ${process}`);
      processState.set(row.server.name, process);
      const status = row.lb?.status ?? null;
      if (!first && lbState.get(row.server.name) !== status) {
        const check = row.lb?.checkStatus ? ` [${row.lb.checkStatus}]` : '';
        options.print(`${clock()} ${name} ${stateInWords(lbState.get(row.server.name) ?? null, lab.state.spec)} → ${stateInWords(status, lab.state.spec)}${check}`);
      }
      lbState.set(row.server.name, status);
      if (row.lb) {
        const before = sessions.get(row.server.name);
        // A restarted HAProxy starts its counters again: never count backwards.
        if (before !== undefined && row.lb.sessionsTotal >= before) {
          served.set(row.server.zone, (served.get(row.server.zone) ?? 0) + row.lb.sessionsTotal - before);
        }
        sessions.set(row.server.name, row.lb.sessionsTotal);
      }
    }
    first = false;
    if (Date.now() - lastSplit >= 1000) {
      const line = splitLine(served);
      if (line) options.print(`${clock().slice(0, 8)} ${line}`);
      served.clear();
      lastSplit = Date.now();
    }
    await sleep(intervalMs, undefined, { signal: options.signal }).catch(() => {});
  }
  return 'signal';
}
