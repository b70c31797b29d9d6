import { failed, finalAttempts, percentile, type RequestResult, type RunEvent } from '../records/index.js';
import { FailoverTracker } from './tracker.js';

export type PhaseName = 'before' | 'outage' | 'after';

/** Requests per backend in one phase. */
export interface PhaseRatio {
  phase: PhaseName;
  /** Answered requests in the phase. */
  answered: number;
  /** Requests of the phase that failed (no answer or a 5xx). */
  failed: number;
  byZone: Record<string, number>;
  byInstance: Record<string, number>;
}

/** One zone in one phase: how many requests, how many failed, how fast the answers were. */
export interface ZonePhaseStats {
  phase: PhaseName;
  /** The zone that answered, or `(no answer)` for requests nobody answered. */
  zone: string;
  requests: number;
  failed: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface FailoverMetrics {
  faultAt: number | null;
  restartAt: number | null;
  readyAt: number | null;
  /** Last request sent after the fault (and before the restart) that failed or reached the faulted zone, minus faultAt; 0 when none. Null when the run never rerouted. */
  timeToRerouteMs: number | null;
  rerouted: boolean;
  errors: { count: number; byKind: Record<string, number> };
  /**
   * Failures that kept coming back during the outage, in bursts more than a second apart
   * (a balancer that tries a zone it took out again with real requests): how many bursts
   * and the median time between their starts; null with fewer than three bursts.
   */
  recurringFailures: { bursts: number; everyMs: number } | null;
  /** Last failure minus first failure (sentAt), 0 with one failure, null with none. */
  errorWindowMs: number | null;
  /** Longest time between two successful responses (by when they completed). */
  longestGapMs: number;
  /** First request served by the faulted zone after the restart, minus restartAt / minus readyAt. */
  timeToReturnMs: number | null;
  timeToReturnFromReadyMs: number | null;
  returned: boolean;
  /** The load balancer's own view: when it marked the faulted zone's servers DOWN, then UP again (null when not seen). */
  lb: { downAfterFaultMs: number | null; upAfterRestartMs: number | null; upAfterReadyMs: number | null };
  phases: PhaseRatio[];
  /** Failure rate and latency per phase and zone (what shows a fault a health check cannot see). */
  zones: ZonePhaseStats[];
  /** The run was stopped (Ctrl-C) before it finished its phases. */
  interrupted: boolean;
  /** When the run was interrupted (ms since it started); null when it ran to its end. */
  interruptedAt: number | null;
  /** How far the load generator fell behind its schedule at worst, ms, when it noticeably did; else null. */
  loadBehindMs: number | null;
  /** Each stretch where it did, by the due times of its requests (null in runs recorded before they were kept). */
  loadBehind?: { fromMs: number | null; toMs: number | null; maxLagMs: number }[];
  /** Requests the open loop could not send (the rate was beyond the machine), by stretch; absent or empty when it kept the rate. */
  loadUnsent?: { fromMs: number; toMs: number; count: number }[];
}

const NO_ANSWER = '(no answer)';
const BURST_GAP_MS = 1000;

/** Bursts of failures (sorted send times) more than a second apart, when there are three or more. Pure. */
export function failureBursts(sentAts: readonly number[]): { bursts: number; everyMs: number } | null {
  const starts = sentAts.filter((at, i) => i === 0 || at - sentAts[i - 1]! > BURST_GAP_MS);
  if (starts.length < 3) return null;
  const gaps = starts
    .slice(1)
    .map((at, i) => at - starts[i]!)
    .sort((a, b) => a - b);
  return { bursts: starts.length, everyMs: gaps[Math.floor(gaps.length / 2)]! };
}

function firstEvent(events: readonly RunEvent[], kind: RunEvent['kind']): RunEvent | undefined {
  return events.find((event) => event.kind === kind);
}

function count(into: Record<string, number>, key: string | null): void {
  const name = key ?? '(unknown)';
  into[name] = (into[name] ?? 0) + 1;
}

/**
 * The failover numbers, as the project's design defines them, from a run's records and
 * events. Pure: a saved run is re-analysed by calling it again. `faultZone` names the zone
 * whose servers were faulted, `instances` their instance names (for the load balancer's view),
 * `holdMs` how long the outage must end clean to count as rerouted (the run's hold).
 */
export function computeFailoverMetrics(
  records: readonly RequestResult[],
  events: readonly RunEvent[],
  fault: { zone: string; instances: readonly string[]; holdMs?: number },
): FailoverMetrics {
  const requests = finalAttempts(records).sort((a, b) => a.sentAt - b.sentAt);
  const faultAt = firstEvent(events, 'fault')?.at ?? null;
  const restartAt = firstEvent(events, 'recover')?.at ?? null;
  const readyAt = firstEvent(events, 'server-ready')?.at ?? null;
  const interruptedAt = events.find((event) => event.kind === 'phase' && event.target === 'done' && event.detail === 'interrupted')?.at ?? null;

  // Reroute and return: the same tracker that decided when the run moved on.
  const tracker = new FailoverTracker(fault.zone, fault.holdMs ?? 0);
  if (faultAt !== null) tracker.fault(faultAt);
  if (restartAt !== null) tracker.restart(restartAt);
  for (const request of requests) tracker.observe(request);
  const returnedAt = tracker.firstReturnAt;

  // Errors of the whole run (errors before the fault count too: they are reported, not hidden).
  const failures = requests.filter(failed);
  const byKind: Record<string, number> = {};
  for (const request of failures) count(byKind, request.error ?? `HTTP ${request.status}`);
  const outageFailures = faultAt === null ? [] : failures.filter((request) => request.sentAt >= faultAt && (restartAt === null || request.sentAt < restartAt));
  const recurringFailures = failureBursts(outageFailures.map((request) => request.sentAt));
  const errorWindowMs = failures.length === 0 ? null : failures.at(-1)!.sentAt - failures[0]!.sentAt;

  const completions = requests
    .filter((request) => !failed(request))
    .map((request) => request.sentAt + request.latencyMs)
    .sort((a, b) => a - b);
  let longestGapMs = 0;
  for (let i = 1; i < completions.length; i++) longestGapMs = Math.max(longestGapMs, completions[i]! - completions[i - 1]!);

  const lbEvents = events.filter((event) => event.kind === 'lb-state' && fault.instances.includes(event.target));
  const downEvent = faultAt === null ? undefined : lbEvents.find((event) => event.at >= faultAt && event.detail.startsWith('DOWN'));
  // Back in service is the first state after the restart that serves: `UP`, or `UP n/m` (in
  // service while some probers still say unhealthy: the passthrough balancer with several).
  const upEvent = restartAt === null ? undefined : lbEvents.find((event) => event.at >= restartAt && event.detail.startsWith('UP'));

  const phaseOf = (request: RequestResult): PhaseName =>
    faultAt === null || request.sentAt < faultAt ? 'before' : returnedAt === null || request.sentAt < returnedAt ? 'outage' : 'after';
  const phases: PhaseRatio[] = (['before', 'outage', 'after'] as const).map((phase) => ({ phase, answered: 0, failed: 0, byZone: {}, byInstance: {} }));
  const latencies = new Map<string, { phase: PhaseName; zone: string; failed: number; values: number[] }>();
  for (const request of requests) {
    const phase = phaseOf(request);
    const zone = request.zone ?? NO_ANSWER;
    const key = `${phase}\u0000${zone}`;
    const entry = latencies.get(key) ?? { phase, zone, failed: 0, values: [] };
    entry.values.push(request.latencyMs);
    if (failed(request)) entry.failed++;
    latencies.set(key, entry);
    const ratio = phases.find((p) => p.phase === phase)!;
    if (failed(request)) ratio.failed++;
    if (request.status === null) continue;
    ratio.answered++;
    count(ratio.byZone, request.zone);
    count(ratio.byInstance, request.instance);
  }
  const order: PhaseName[] = ['before', 'outage', 'after'];
  const zones = [...latencies.values()]
    .sort((a, b) => order.indexOf(a.phase) - order.indexOf(b.phase) || a.zone.localeCompare(b.zone))
    .map(({ phase, zone, failed: failures, values }) => {
      const sorted = values.sort((a, b) => a - b);
      return { phase, zone, requests: sorted.length, failed: failures, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
    });

  return {
    faultAt,
    restartAt,
    readyAt,
    timeToRerouteMs: tracker.timeToRerouteMs,
    rerouted: tracker.rerouted,
    errors: { count: failures.length, byKind },
    recurringFailures,
    errorWindowMs,
    longestGapMs,
    timeToReturnMs: tracker.timeToReturnMs,
    timeToReturnFromReadyMs: returnedAt === null || readyAt === null ? null : returnedAt - readyAt,
    returned: returnedAt !== null,
    lb: {
      downAfterFaultMs: downEvent && faultAt !== null ? downEvent.at - faultAt : null,
      upAfterRestartMs: upEvent && restartAt !== null ? upEvent.at - restartAt : null,
      upAfterReadyMs: upEvent && readyAt !== null ? upEvent.at - readyAt : null,
    },
    phases,
    zones,
    interrupted: interruptedAt !== null,
    interruptedAt,
    ...loadBehindOf(events),
    loadUnsent: events
      .filter((event) => event.kind === 'phase' && event.target === 'load-unsent')
      .map((event) => /^(\d+) from ([\d.]+) to ([\d.]+)$/.exec(event.detail))
      .filter((match) => match !== null)
      .map((match) => ({ count: Number(match[1]), fromMs: Number(match[2]), toMs: Number(match[3]) })),
  };
}

/** The load-behind events as episodes, and the worst lag among them. */
function loadBehindOf(events: readonly RunEvent[]): Pick<FailoverMetrics, 'loadBehindMs' | 'loadBehind'> {
  const episodes = events
    .filter((event) => event.kind === 'phase' && event.target === 'load-behind')
    .map((event) => {
      const [, max, from, to] = /^([\d.]+) ms(?: from ([\d.]+) to ([\d.]+))?$/.exec(event.detail) ?? [];
      return { fromMs: from === undefined ? null : Number(from), toMs: to === undefined ? null : Number(to), maxLagMs: Number(max) };
    })
    .filter((episode) => Number.isFinite(episode.maxLagMs) && episode.maxLagMs > 0);
  if (episodes.length === 0) return { loadBehindMs: null, loadBehind: [] };
  return { loadBehindMs: Math.max(...episodes.map((episode) => episode.maxLagMs)), loadBehind: episodes };
}
