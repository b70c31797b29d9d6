import type { RunEvent } from '../records/index.js';
import type { FailoverTracker } from './tracker.js';

export interface PhaseTiming {
  /** Load before the fault, ms. */
  warmupMs: number;
  /** How long rerouted (and returned) traffic must stay so before moving on, ms. */
  holdMs: number;
  /** Extra wait before the heal once rerouted, ms (trials: so restarts land at different points of the check cycle); default 0. */
  healDelayMs?: number;
  /** Give up waiting for reroute (and return) after this long, ms. */
  maxWaitMs: number;
}

/** Where the run is: waiting for a step's I/O (`faulting`, `healing`) or watching traffic. */
export type Phase = 'warm-up' | 'faulting' | 'outage' | 'healing' | 'return' | 'done';

/** What the runner must do now. */
export type PhaseAction = 'wait' | 'inject' | 'heal' | 'finish';

export interface PhaseStep {
  action: PhaseAction;
  /** Phase events to record (on the same clock as the requests). */
  events: RunEvent[];
}

function phaseEvent(at: number, name: string, detail = ''): RunEvent {
  return { at, kind: 'phase', target: name, detail };
}

/**
 * The failover experiment's phases as a pure state machine over a tracker and a clock
 * given to it: warm-up → fault → outage until rerouted and stable for `holdMs` (or
 * `maxWaitMs`) → heal → return until the zone has served for `holdMs` (or `maxWaitMs`) →
 * done. The runner asks `next(now)` about ten times a second and reports when the fault
 * and the heal it was told to do are in place.
 */
export class FailoverPhases {
  phase: Phase = 'warm-up';
  rerouted: boolean | null = null;
  returned: boolean | null = null;
  readonly #timing: PhaseTiming;
  readonly #tracker: FailoverTracker;

  constructor(timing: PhaseTiming, tracker: FailoverTracker) {
    this.#timing = timing;
    this.#tracker = tracker;
  }

  next(now: number): PhaseStep {
    const { warmupMs, holdMs, maxWaitMs } = this.#timing;
    const tracker = this.#tracker;
    switch (this.phase) {
      case 'warm-up':
        if (now < warmupMs) return { action: 'wait', events: [] };
        this.phase = 'faulting';
        tracker.faulting();
        return { action: 'inject', events: [] };
      case 'outage':
        if (tracker.cleanFor(now) >= holdMs + (this.#timing.healDelayMs ?? 0)) {
          this.rerouted = true;
          this.phase = 'healing';
          return { action: 'heal', events: [] };
        }
        if (now - tracker.faultAt! > maxWaitMs) {
          this.rerouted = false;
          this.phase = 'healing';
          return { action: 'heal', events: [phaseEvent(now, 'not-rerouted', `after ${maxWaitMs} ms`)] };
        }
        return { action: 'wait', events: [] };
      case 'return': {
        const served = tracker.returnedFor(now);
        if (served !== null && served >= holdMs) {
          this.returned = true;
          this.phase = 'done';
          return { action: 'finish', events: [] };
        }
        // Once the zone serves, it gets its hold even when that runs past the wait.
        if (now - tracker.restartAt! > maxWaitMs + (served === null ? 0 : holdMs)) {
          this.returned = false;
          this.phase = 'done';
          return { action: 'finish', events: [phaseEvent(now, 'not-returned', `after ${maxWaitMs} ms`)] };
        }
        return { action: 'wait', events: [] };
      }
      default:
        return { action: this.phase === 'done' ? 'finish' : 'wait', events: [] };
    }
  }

  /** The fault is in place; `at` is when it counts from. */
  faulted(at: number): RunEvent[] {
    this.#tracker.fault(at);
    this.phase = 'outage';
    return [phaseEvent(at, 'outage')];
  }

  /** The heal (restart) starts at `at`. */
  healing(at: number): void {
    this.#tracker.restart(at);
  }

  /** The healed zone answers its own health check at `at`. */
  ready(at: number): RunEvent[] {
    this.phase = 'return';
    return [phaseEvent(at, 'return')];
  }
}
