import { secondsText } from './format.js';
import type { Phase } from './phases.js';
import type { FailoverTracker } from './tracker.js';

/** A run's state as a live view shows it (the page, through an `ExperimentWatcher`). */
export interface LiveRunStatus {
  phase: string;
  measures: { label: string; value: string }[];
}

const PHASE_WORDS: Record<Phase, string> = {
  'warm-up': 'warm-up: load on every zone',
  faulting: 'injecting the fault',
  outage: 'outage: waiting for the load balancer to reroute',
  healing: 'healing the zone',
  return: 'return: waiting for the zone to serve again',
  done: 'done',
};

export interface LiveRunFacts {
  phase: Phase;
  tracker: FailoverTracker;
  /** Run clock, ms. */
  now: number;
  answered: number;
  failed: number;
  /** When the load balancer took the faulted zone out (run clock, ms), if it has. */
  lbDownAt: number | null;
  /** When the healed zone answered its own health check (run clock, ms), if it has. */
  readyAt: number | null;
}

/**
 * The running measurements in words, by the same tracker the run and its report use, so
 * what the page shows as it happens is what the report will say. Pure.
 */
export function liveRunStatus(facts: LiveRunFacts): LiveRunStatus {
  const { tracker, now } = facts;
  const measures = [
    { label: 'elapsed', value: secondsText(now) },
    // Requests sent and settled, as the report counts them: answered and failed together.
    { label: 'requests', value: String(facts.answered + facts.failed) },
    { label: 'answered', value: String(facts.answered) },
    { label: 'failed', value: String(facts.failed) },
  ];
  const faultAt = tracker.faultAt;
  if (faultAt !== null) {
    const last = tracker.lastBadSentAt === null ? 0 : tracker.lastBadSentAt - faultAt;
    if (tracker.restartAt === null) {
      measures.push(
        { label: 'last bad request', value: `${secondsText(last)} after the fault` },
        { label: 'clean for', value: `${secondsText(tracker.cleanFor(now))} of ${secondsText(tracker.holdMs)}` },
      );
    } else {
      measures.push({ label: 'time to reroute', value: tracker.rerouted ? secondsText(tracker.timeToRerouteMs) : 'not rerouted' });
    }
    if (facts.lbDownAt !== null) measures.push({ label: 'load balancer down', value: `${secondsText(facts.lbDownAt - faultAt)} after the fault` });
  }
  if (tracker.restartAt !== null) {
    const back = tracker.timeToReturnMs;
    const fromReady = tracker.firstReturnAt !== null && facts.readyAt !== null ? tracker.firstReturnAt - facts.readyAt : null;
    measures.push({
      label: 'time to return',
      value: back === null ? `waiting (${secondsText(now - tracker.restartAt)} since the restart)` : `${secondsText(back)} (${secondsText(fromReady)} from ready)`,
    });
  }
  return { phase: PHASE_WORDS[facts.phase], measures };
}
