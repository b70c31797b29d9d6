import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadBalancerSpec } from '../lb/index.js';
import type { BackendStatus, Lab } from './lab.js';
import type { ServerRecord } from './state.js';
import { stateFile } from './state.js';

/**
 * The load balancer's state of a backend in words. The notation is HAProxy's `show stat`,
 * which every driver speaks: `UP n/m` is in service with n more failed checks (of m) to
 * go, so m − n have failed; `DOWN n/m` is out of service with n of the m passes it needs.
 * The passthrough balancer counts probers' verdicts the same way. Pure.
 */
export function stateInWords(status: string | null, spec: LoadBalancerSpec): string {
  void spec;
  if (status === null) return 'unknown (the load balancer does not answer)';
  const transition = /^(UP|DOWN) (\d+)\/(\d+)$/.exec(status);
  if (transition) {
    const [n, m] = [Number(transition[2]), Number(transition[3])];
    return transition[1] === 'UP' ? `checks failing (${m - n} of ${m})` : `coming back (${n} of ${m} checks passed)`;
  }
  if (status === 'UP') return 'serving';
  if (status === 'DOWN') return 'down';
  if (status.startsWith('MAINT')) return 'in maintenance';
  if (status === 'NOLB') return 'draining (no new traffic)';
  return status;
}

/**
 * The last health check's result in the same words for every balancer: HAProxy's codes
 * (`L7OK`, `L4CON`, `L4TOUT`, `L7STS` …, as its runtime API's `check_status` gives them),
 * the passthrough prober's and Caddy's (`200`, `timeout`, `refused`). Pure.
 */
export function checkInWords(check: string): string {
  if (check === '') return '';
  if (/^(L7OK|L7OKC|L6OK|L4OK|2\d\d)$/.test(check)) return 'last check passed';
  if (/TOUT$|^timeout$/i.test(check)) return 'last check timed out';
  if (/^(L4CON|refused|ECONNREFUSED)$/i.test(check)) return 'last check refused';
  if (check === 'L7STS' || /^[3-5]\d\d$/.test(check)) return 'last check answered an error status';
  if (check === 'L7RSP') return 'last check answered garbage';
  if (check === 'SOCKERR' || /^ECONNRESET$/i.test(check)) return 'last check reset';
  if (check === 'INI') return 'not checked yet';
  return `last check: ${check}`;
}

/** What the process of a backend is doing, in words, from the lab's state file. Pure. */
export function processInWords(row: Pick<BackendStatus, 'process'> & { server: { fault: string | null } }): string {
  const fault = row.server.fault;
  if (row.process === 'stopped') return fault ? `stopped (${fault})` : 'stopped';
  if (row.process === 'paused') return 'frozen (stop)';
  return fault ? `running, fault ${fault}` : 'running';
}

/** One line: how the last second's connections split between zones (null when there were none). Pure. */
export function splitLine(served: ReadonlyMap<string, number>, failedCount = 0): string | null {
  const total = [...served.values()].reduce((sum, n) => sum + n, 0);
  if (total === 0 && failedCount === 0) return null;
  const parts = [...served.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([zone, n]) => `${zone} ${n} (${total === 0 ? 0 : Math.round((n / total) * 100)}%)`);
  const failures = failedCount > 0 ? `; ${failedCount} failed` : '';
  return `the load balancer sent in the last second: ${parts.join(', ') || 'nothing served'}${failures}`;
}

/** A backend's process or its load balancer state changed (`from` null: first seen). */
export interface LabChange {
  server: ServerRecord;
  kind: 'process' | 'lb';
  from: string | null;
  to: string | null;
}

/** What one look at the lab found, against the look before. */
export interface LabObservation {
  rows: BackendStatus[];
  changes: LabChange[];
  /** Connections the load balancer completed per zone since the last look (its own counters: any client's traffic). */
  served: Map<string, number>;
  /** Connections that failed at a zone's servers since the last look (connection and response errors, 5xx). */
  failed: Map<string, number>;
}

interface Counters {
  sessions: number;
  failed: number;
  redispatched: number;
}

/**
 * Turns successive looks at a lab (`lab.status()`) into changes and per-zone counts. A
 * connection the balancer redispatched after a failed connect counts at the server that served
 * it, not as a failure. The first look sets the baseline: no changes, no counts. Pure.
 */
export class LabObserver {
  readonly #process = new Map<string, string>();
  readonly #lb = new Map<string, string | null>();
  readonly #counters = new Map<string, Counters>();
  #first = true;

  observe(rows: BackendStatus[]): LabObservation {
    const changes: LabChange[] = [];
    const served = new Map<string, number>();
    const failedByZone = new Map<string, number>();
    for (const row of rows) {
      const name = row.server.name;
      const process = processInWords(row);
      if (!this.#first && this.#process.get(name) !== process) changes.push({ server: row.server, kind: 'process', from: this.#process.get(name) ?? null, to: process });
      this.#process.set(name, process);
      const status = row.lb?.status ?? null;
      if (!this.#first && this.#lb.get(name) !== status) changes.push({ server: row.server, kind: 'lb', from: this.#lb.get(name) ?? null, to: status });
      this.#lb.set(name, status);
      // A balancer that counts nothing (nginx) puts no counts on the page.
      if (!row.lb || row.lb.sessionsTotal === null) continue;
      // Failures and redispatches a balancer does not count (the passthrough one) are none.
      const now = { sessions: row.lb.sessionsTotal, failed: row.lb.failedTotal ?? 0, redispatched: row.lb.redispatchedTotal ?? 0 };
      const before = this.#counters.get(name);
      // A restarted balancer starts its counters again: never count backwards.
      if (before && now.sessions >= before.sessions && now.failed >= before.failed && now.redispatched >= before.redispatched) {
        const failedNow = now.failed - before.failed;
        const servedNow = now.sessions - before.sessions - failedNow - (now.redispatched - before.redispatched);
        const zone = row.server.zone;
        served.set(zone, (served.get(zone) ?? 0) + Math.max(0, servedNow));
        failedByZone.set(zone, (failedByZone.get(zone) ?? 0) + failedNow);
      }
      this.#counters.set(name, now);
    }
    this.#first = false;
    return { rows, changes, served, failed: failedByZone };
  }
}

export interface WatchOptions {
  signal: AbortSignal;
  /** Prints one line (the caller adds nothing but a newline). */
  print: (line: string) => void;
  /** How often states are read, ms; default 250. */
  intervalMs?: number;
  /** Told of every look (the live page feeds on it). */
  onObservation?: (observation: LabObservation) => void;
}

function clock(): string {
  return new Date().toISOString().slice(11, 23);
}

/**
 * The foreground lab's terminal: a line for every change of a backend's load-balancer state and
 * of its process (stopped, started, faulted, healed, by whichever command or page did it),
 * and each second the split per zone of the connections the balancer handed out (its own
 * counters, so any client's traffic counts). Resolves `'signal'` when stopped, or
 * `'down-elsewhere'` once the lab's state file is gone (`lab down` from another shell).
 */
export async function watchLab(lab: Lab, options: WatchOptions): Promise<'signal' | 'down-elsewhere'> {
  const intervalMs = options.intervalMs ?? 250;
  const observer = new LabObserver();
  const served = new Map<string, number>();
  let failedCount = 0;
  let lastSplit = Date.now();
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
    const observation = observer.observe(rows);
    for (const change of observation.changes) {
      const name = `${change.server.name} (${change.server.zone})`;
      if (change.kind === 'process') {
        options.print(`${clock()} ${name} ${change.to}`);
      } else {
        const row = rows.find((r) => r.server.name === change.server.name);
        const check = row?.lb?.checkStatus ? ` [${row.lb.checkStatus}]` : '';
        options.print(`${clock()} ${name} ${stateInWords(change.from, lab.state.spec)} → ${stateInWords(change.to, lab.state.spec)}${check}`);
      }
    }
    for (const [zone, n] of observation.served) served.set(zone, (served.get(zone) ?? 0) + n);
    for (const n of observation.failed.values()) failedCount += n;
    options.onObservation?.(observation);
    if (Date.now() - lastSplit >= 1000) {
      const line = splitLine(served, failedCount);
      if (line) options.print(`${clock().slice(0, 8)} ${line}`);
      served.clear();
      failedCount = 0;
      lastSplit = Date.now();
    }
    await sleep(intervalMs, undefined, { signal: options.signal }).catch(() => {});
  }
  return 'signal';
}
