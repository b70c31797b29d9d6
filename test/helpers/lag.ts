import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Runs `work` while watching this process's event loop, and returns its value with the
 * worst delay the loop suffered meanwhile, in ms: how far a busy machine held this process
 * back, and so (every process here sharing the same two cores) about how far it held back
 * the load balancer and the servers too.
 */
export async function withLoopDelay<T>(work: () => Promise<T>): Promise<{ value: T; worstDelayMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    const value = await work();
    return { value, worstDelayMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

/**
 * Asserts that a measured time lies in the window the spec predicts, widened by the lag the
 * run itself measured (never by a constant that a busy machine may exceed): the bound is
 * about the load balancer, the lag about the machine it ran on.
 */
export function assertWithin(what: string, valueMs: number | null, window: { lowMs?: number; highMs: number }, lagMs: number): void {
  assert.ok(valueMs !== null, `${what}: not measured`);
  const low = (window.lowMs ?? 0) - lagMs;
  const high = window.highMs + lagMs;
  assert.ok(
    valueMs >= low && valueMs <= high,
    `${what} ${Math.round(valueMs)} ms, outside ${Math.round(window.lowMs ?? 0)}–${Math.round(window.highMs)} ms widened by the run's lag of ${Math.round(lagMs)} ms`,
  );
}
