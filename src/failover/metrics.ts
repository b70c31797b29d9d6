import type { RequestResult } from '../client/index.js';
import type { RunEvent } from './records.js';

/** Requests per backend in one phase. */
export interface PhaseRatio {
  phase: 'before' | 'outage' | 'after';
  /** Answered requests in the phase. */
  answered: number;
  byZone: Record<string, number>;
  byInstance: Record<string, number>;
}

export interface FailoverMetrics {
  faultAt: number | null;
  restartAt: number | null;
  readyAt: number | null;
  /** Last request sent after the fault (and before the restart) that failed or reached the faulted zone, minus faultAt; 0 when none. Null when the run never rerouted. */
  timeToRerouteMs: number | null;
  rerouted: boolean;
  errors: { count: number; byKind: Record<string, number> };
  /** Last failure minus first failure (sentAt), 0 with one failure, null with none. */
  errorWindowMs: number | null;
  /** Longest time between two successful responses (by when they completed). */
  longestGapMs: number;
  /** First request served by the faulted zone after the restart, minus restartAt / minus readyAt. */
  timeToReturnMs: number | null;
  timeToReturnFromReadyMs: number | null;
  returned: boolean;
  /** HAProxy's view: when it marked the faulted zone's servers DOWN, then UP again (null when not seen). */
  lb: { downAfterFaultMs: number | null; upAfterRestartMs: number | null; upAfterReadyMs: number | null };
  phases: PhaseRatio[];
}

/** A request that failed: no answer, or a 5xx. A 400 refusal is an answer, not a failure. */
export function failed(record: RequestResult): boolean {
  return record.status === null || record.status >= 500;
}

function lastRecordOfEachRequest(records: readonly RequestResult[]): RequestResult[] {
  const last = new Map<number, RequestResult>();
  for (const record of records) {
    const seen = last.get(record.seq);
    if (!seen || record.attempt > seen.attempt) last.set(record.seq, record);
  }
  return [...last.values()].sort((a, b) => a.sentAt - b.sentAt);
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
 * whose servers were faulted; `faultInstances` their instance names (for HAProxy's view).
 */
export function computeFailoverMetrics(
  records: readonly RequestResult[],
  events: readonly RunEvent[],
  fault: { zone: string; instances: readonly string[] },
): FailoverMetrics {
  const requests = lastRecordOfEachRequest(records);
  const faultAt = firstEvent(events, 'fault')?.at ?? null;
  const restartAt = firstEvent(events, 'recover')?.at ?? null;
  const readyAt = firstEvent(events, 'server-ready')?.at ?? null;
  const end = Number.POSITIVE_INFINITY;

  // Reroute: the last request after the fault (and before the restart) that still failed
  // or still reached the faulted zone.
  let lastBad: number | null = null;
  let goodAfterLastBad = false;
  if (faultAt !== null) {
    for (const request of requests) {
      if (request.sentAt < faultAt || request.sentAt >= (restartAt ?? end)) continue;
      if (failed(request) || request.zone === fault.zone) {
        lastBad = request.sentAt;
        goodAfterLastBad = false;
      } else {
        goodAfterLastBad = true;
      }
    }
  }
  const rerouted = faultAt !== null && (lastBad === null || goodAfterLastBad);
  const timeToRerouteMs = faultAt === null || !rerouted ? null : lastBad === null ? 0 : lastBad - faultAt;

  // Errors of the whole run (errors before the fault count too: they are reported, not hidden).
  const failures = requests.filter(failed);
  const byKind: Record<string, number> = {};
  for (const request of failures) count(byKind, request.error ?? `HTTP ${request.status}`);
  const errorWindowMs = failures.length === 0 ? null : failures.at(-1)!.sentAt - failures[0]!.sentAt;

  const completions = requests
    .filter((request) => !failed(request))
    .map((request) => request.sentAt + request.latencyMs)
    .sort((a, b) => a - b);
  let longestGapMs = 0;
  for (let i = 1; i < completions.length; i++) longestGapMs = Math.max(longestGapMs, completions[i]! - completions[i - 1]!);

  const firstReturn =
    restartAt === null ? undefined : requests.find((request) => request.sentAt >= restartAt && !failed(request) && request.zone === fault.zone);
  const returnedAt = firstReturn?.sentAt ?? null;

  const lbEvents = events.filter((event) => event.kind === 'lb-state' && fault.instances.includes(event.target));
  const downEvent = faultAt === null ? undefined : lbEvents.find((event) => event.at >= faultAt && event.detail.startsWith('DOWN'));
  const upEvent = restartAt === null ? undefined : lbEvents.find((event) => event.at >= restartAt && event.detail === 'UP');

  const phaseOf = (request: RequestResult): PhaseRatio['phase'] =>
    faultAt === null || request.sentAt < faultAt ? 'before' : returnedAt === null || request.sentAt < returnedAt ? 'outage' : 'after';
  const phases: PhaseRatio[] = (['before', 'outage', 'after'] as const).map((phase) => ({ phase, answered: 0, byZone: {}, byInstance: {} }));
  for (const request of requests) {
    if (request.status === null) continue;
    const ratio = phases.find((p) => p.phase === phaseOf(request))!;
    ratio.answered++;
    count(ratio.byZone, request.zone);
    count(ratio.byInstance, request.instance);
  }

  return {
    faultAt,
    restartAt,
    readyAt,
    timeToRerouteMs,
    rerouted,
    errors: { count: failures.length, byKind },
    errorWindowMs,
    longestGapMs,
    timeToReturnMs: returnedAt === null || restartAt === null ? null : returnedAt - restartAt,
    timeToReturnFromReadyMs: returnedAt === null || readyAt === null ? null : returnedAt - readyAt,
    returned: returnedAt !== null,
    lb: {
      downAfterFaultMs: downEvent && faultAt !== null ? downEvent.at - faultAt : null,
      upAfterRestartMs: upEvent && restartAt !== null ? upEvent.at - restartAt : null,
      upAfterReadyMs: upEvent && readyAt !== null ? upEvent.at - readyAt : null,
    },
    phases,
  };
}
