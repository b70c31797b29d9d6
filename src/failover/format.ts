import type { FailoverMetrics } from './metrics.js';
import { join } from 'node:path';
import { lbName } from '../lb/index.js';
import type { RunSetup } from '../records/index.js';
import { type RunBounds, runBounds } from './run-bounds.js';
import type { TrialsSummary } from './trials.js';

/** The text with its first letter upper-case ("the passthrough balancer" → "The …"). */
export function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * `1.49`: milliseconds as seconds to the hundredth. A few milliseconds below zero (the zone
 * answered a hair before its ready event was logged) shows as 0.00, not -0.00.
 */
export function secondsFigure(ms: number): string {
  const shown = (ms / 1000).toFixed(2);
  return shown === '-0.00' ? '0.00' : shown;
}

/** `1.49 s`, or `—` for a measure that has no value. */
export function secondsText(ms: number | null): string {
  return ms === null ? '—' : `${secondsFigure(ms)} s`;
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
  // Interrupted before the heal: the wait for the reroute had not run out. After it, the
  // verdict "not rerouted" was reached before the interruption.
  if (metrics.interrupted && metrics.restartAt === null) return NOT_MEASURED;
  return bounds?.view === 'passes' ? 'not rerouted: the health check still passes' : 'not rerouted';
}

/** What an interrupted run says of a measure whose moment had not come: never "not rerouted". */
export const NOT_MEASURED = 'not measured: the run was interrupted first';

/** The time to return, or why there is none. */
export function returnText(metrics: FailoverMetrics, from: 'restart' | 'ready'): string {
  if (metrics.returned) return secondsText(from === 'restart' ? metrics.timeToReturnMs : metrics.timeToReturnFromReadyMs);
  return metrics.interrupted ? NOT_MEASURED : 'not returned';
}

/** `DOWN 1.47 s after the fault`, `never DOWN`, or `DOWN not seen before the interruption`. */
function markText(state: 'DOWN' | 'UP', ms: number | null, after: string, interrupted: boolean): string {
  if (ms !== null) return `${state} ${secondsText(ms)} after ${after}`;
  return interrupted ? `${state} not seen before the interruption` : `never ${state}`;
}

/** The key lines a run ends with (the CLI prints them, the live page shows them). Pure. */
export function resultLines(result: { dir: string; setup: RunSetup; metrics: FailoverMetrics }): string[] {
  const m = result.metrics;
  return [
    `time to reroute: ${rerouteText(m, runBounds(result.setup))}`,
    `failed requests: ${m.errors.count}${m.errors.count ? ` (${errorKindsText(m.errors.byKind)})` : ''}, longest gap ${secondsText(m.longestGapMs)}`,
    `time to return: ${m.returned ? `${secondsText(m.timeToReturnMs)} from the restart, ${secondsText(m.timeToReturnFromReadyMs)} from ready` : returnText(m, 'restart')}`,
    ...(result.setup.where === 'lab' && result.setup.lb?.kind !== 'nginx'
      ? [
          `${capitalized(lbName(result.setup.lb?.kind))}: ${markText('DOWN', m.lb.downAfterFaultMs, 'the fault', m.interrupted)}, ${markText('UP', m.lb.upAfterReadyMs, 'ready', m.interrupted)}`,
        ]
      : []),
    `report: ${join(result.dir, 'report.md')}`,
  ];
}

/** The lines a trials run ends with: each measure's median [95% interval], range and window. Pure. */
export function trialsLines(trials: { dir: string; runs: readonly unknown[]; summary: TrialsSummary }): string[] {
  const lines = trials.summary.measures.map((measure) => {
    const unit = measure.measure === 'failed' ? '' : ' s';
    const stats = measure.stats;
    const figure = (value: number) => (measure.measure === 'failed' ? String(value) : value.toFixed(2));
    const median = stats ? `median ${figure(stats.median)}${unit} (95% interval of the median ${figure(stats.ci95[0])}–${figure(stats.ci95[1])}${unit}), trials from ${figure(stats.min)} to ${figure(stats.max)}${unit}` : 'no trial had a value';
    const outside = measure.modelled ? `${measure.outside} of ${trials.runs.length} outside the model's window: observations to explain, not failures` : 'NOT every trial inside';
    const window = measure.window ? `; window ${measure.window.low.toFixed(2)}–${measure.window.high.toFixed(2)} s${measure.modelled ? ' (model)' : ''}: ${measure.allInside ? 'every trial inside' : outside}` : '';
    return `${measure.label}: ${median}${window}`;
  });
  return [`${trials.runs.length} trials`, ...lines, `report: ${join(trials.dir, 'report.md')}`];
}
