import type { FailoverMetrics } from './metrics.js';
import type { RunBounds } from './run-bounds.js';

/** `1.49 s`, or `—` for a measure that has no value. */
export function secondsText(ms: number | null): string {
  return ms === null ? '—' : `${(ms / 1000).toFixed(2)} s`;
}

/** `ECONNRESET 71, HTTP 500 3`: failures by kind. */
export function errorKindsText(byKind: Record<string, number>): string {
  return Object.entries(byKind)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
}

/** The time to reroute, or why there is none ("the health check still passes" for a fault it cannot see). */
export function rerouteText(metrics: FailoverMetrics, bounds: RunBounds | null): string {
  if (metrics.rerouted) return secondsText(metrics.timeToRerouteMs);
  return bounds?.view === 'passes' ? 'not rerouted: the health check still passes' : 'not rerouted';
}
