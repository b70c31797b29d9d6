import assert from 'node:assert/strict';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { ExperimentWatcher } from '../../src/failover/index.js';

/**
 * How far a busy machine held this process back while a span of a run lasted: the worst
 * delay of its event loop over exactly that span, ms. Every process here shares the same
 * two cores, so it is also about how far the load balancer and the servers were held back.
 * A bound widened by it is widened by what the run measured, never by a guess.
 */
function histogram(): IntervalHistogram {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return h;
}

/** Runs `work` and returns its value with the worst event-loop delay while it ran, ms. */
export async function withLoopDelay<T>(work: () => Promise<T>): Promise<{ value: T; worstDelayMs: number }> {
  const h = histogram();
  try {
    const value = await work();
    return { value, worstDelayMs: h.max / 1e6 };
  } finally {
    h.disable();
  }
}

/** The lag over the spans a run's bounds are about, one entry per run (a trial each). */
export interface RunLag {
  /** From the fault to the heal: what the reroute and the DOWN were measured in. */
  outageMs: number;
  /** From the restarted zone being ready to the end of the run: the return and the UP. */
  returnMs: number;
}

/**
 * An experiment watcher that measures the lag over each run's outage and return (not its
 * start-up or its report, which a bound is not about). Pass `lag.watcher` to a run (or to
 * trials: one entry per trial), then read `lag.runs`.
 */
export function lagWatcher(inner?: ExperimentWatcher): { watcher: ExperimentWatcher; runs: RunLag[]; close(): void } {
  const runs: RunLag[] = [];
  let h: IntervalHistogram | null = null;
  const open = () => {
    h?.disable();
    h = histogram();
  };
  const read = () => (h ? h.max / 1e6 : 0);
  const watcher: ExperimentWatcher = {
    start(setup, now) {
      runs.push({ outageMs: 0, returnMs: 0 });
      inner?.start(setup, now);
    },
    record(record) {
      inner?.record(record);
    },
    event(event) {
      const run = runs.at(-1);
      if (run) {
        if (event.kind === 'fault') open();
        else if (event.kind === 'recover') run.outageMs = read();
        else if (event.kind === 'server-ready') open();
        else if (event.kind === 'phase' && event.target === 'done') run.returnMs = read();
      }
      inner?.event(event);
    },
    status(status) {
      inner?.status(status);
    },
  };
  return {
    watcher,
    runs,
    close: () => {
      h?.disable();
      h = null;
    },
  };
}

/**
 * Asserts that a measured time lies in the window the spec predicts, its upper end widened
 * by the lag the run measured over the span the time was taken in: the bound is about the
 * load balancer, the lag about the machine it ran on. A lag only makes things later, so the
 * lower end stays as the spec says.
 */
export function assertWithin(what: string, valueMs: number | null, window: { lowMs?: number; highMs: number }, lagMs: number): void {
  assert.ok(valueMs !== null, `${what}: not measured`);
  const low = window.lowMs ?? 0;
  const high = window.highMs + lagMs;
  assert.ok(
    valueMs >= low && valueMs <= high,
    `${what} ${Math.round(valueMs)} ms, outside ${Math.round(low)}–${Math.round(window.highMs)} ms (the upper end widened by the run's lag of ${Math.round(lagMs)} ms)`,
  );
}
