import { type CheckView, detectionWindow, rerouteWindow, returnWindow, type Window } from '../lb/index.js';
import type { RunSetup } from '../records/index.js';
import { type ExpectMeasure, measureOf } from './expect.js';
import type { FailoverMetrics } from './metrics.js';
import { runBounds } from './run-bounds.js';
import { BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, type SampleStats, sampleStats } from './stats.js';

/** The measures a trials report summarises, in its order. */
export const TRIAL_MEASURES: readonly ExpectMeasure[] = ['reroute', 'down', 'return', 'return-ready', 'up', 'failed'];

const LABELS: Record<ExpectMeasure, string> = {
  reroute: 'time to reroute',
  down: 'load balancer DOWN after the fault',
  return: 'time to return, from the restart',
  'return-ready': 'time to return, from ready',
  up: 'load balancer UP after ready',
  failed: 'failed requests',
  gap: 'longest gap',
};

/** One measure over the trials. */
export interface TrialMeasure {
  measure: ExpectMeasure;
  label: string;
  /** Per trial, in order; null where a trial had none (not rerouted, …). */
  values: (number | null)[];
  stats: SampleStats | null;
  /** The window the spec predicts (seconds), or null (no spec, a count, or a fault the check cannot see). */
  window: Window | null;
  /** Every trial had a value inside the window; null without a window. */
  allInside: boolean | null;
  /**
   * The window comes from a model of a load balancer that does not document all it does
   * (Google Cloud): a trial outside it is an observation to explain, not a failed run.
   */
  modelled: boolean;
  /** How many trials fell outside the window (those without a value included). */
  outside: number;
}

export interface TrialsSummary {
  trials: number;
  measures: TrialMeasure[];
  bootstrap: { resamples: number; seed: number };
}

/** The window of a measure: detection for reroute and DOWN, return for the times from ready. Pure. */
export function windowOf(setup: Pick<RunSetup, 'spec' | 'fault' | 'where' | 'lb' | 'timeoutMs' | 'checkSees' | 'applyDelaySec'>, measure: ExpectMeasure): Window | null {
  const bounds = runBounds(setup);
  if (!bounds || !setup.spec) return null;
  const view: CheckView = bounds.view;
  if (measure === 'reroute') return rerouteWindow(setup.spec, bounds.lb, view, (setup.timeoutMs ?? 2000) / 1000, bounds.model);
  if (measure === 'down') return detectionWindow(setup.spec, bounds.lb, view, bounds.model);
  if (measure === 'return-ready' || measure === 'up') return returnWindow(setup.spec, bounds.lb, view, bounds.model);
  return null;
}

/** The trials' measures with their spread, the spec's window and whether each trial fell in it. Pure. */
export function summarizeTrials(runs: readonly { setup: RunSetup; metrics: FailoverMetrics }[]): TrialsSummary {
  const setup = runs[0]?.setup;
  // The load balancer's own view exists in a lab only.
  const kept = TRIAL_MEASURES.filter((measure) => setup?.where === 'lab' || (measure !== 'down' && measure !== 'up'));
  const measures = kept.map((measure) => {
    const values = runs.map((run) => measureOf(run.metrics, measure));
    const present = values.filter((value): value is number => value !== null);
    const window = setup ? windowOf(setup, measure) : null;
    const outside = window ? values.filter((value) => value === null || value < window.low || value > window.high).length : 0;
    const allInside = window ? outside === 0 : null;
    return { measure, label: LABELS[measure], values, stats: sampleStats(present), window, allInside, modelled: setup?.where === 'target', outside };
  });
  return { trials: runs.length, measures, bootstrap: { resamples: BOOTSTRAP_RESAMPLES, seed: BOOTSTRAP_SEED } };
}

function insideCell(measure: TrialMeasure): string {
  if (measure.allInside === null) return '—';
  if (measure.allInside) return 'yes';
  return measure.modelled ? `no: ${measure.outside} outside, to explain` : '**no**';
}

function shown(measure: ExpectMeasure, value: number | null): string {
  if (value === null) return '—';
  return measure === 'failed' ? String(value) : value.toFixed(2);
}

/** `1.42 [1.31–1.60]`: a median and its 95% interval, as matrix cells show them. Pure. */
export function medianWithInterval(measure: TrialMeasure): string {
  if (!measure.stats) return '—';
  const { median, ci95 } = measure.stats;
  return `${shown(measure.measure, median)} [${shown(measure.measure, ci95[0])}–${shown(measure.measure, ci95[1])}]`;
}

/** trials report (markdown): the verdict per measure, a table per trial, the method. Pure. */
export function renderTrialsMarkdown(runs: readonly { dir: string; setup: RunSetup; metrics: FailoverMetrics }[], summary: TrialsSummary, relativeDir: (dir: string) => string): string {
  const setup = runs[0]?.setup;
  const title = setup ? `Failover trials: ${setup.fault === 'command' ? 'the fault command' : setup.fault} on ${setup.faultZone}` : 'Failover trials';
  const spec = setup?.spec ? `profile ${setup.spec.profile}: check every ${setup.spec.checkIntervalSec} s, timeout ${setup.spec.timeoutSec} s, healthy after ${setup.spec.healthyThreshold}, unhealthy after ${setup.spec.unhealthyThreshold}` : 'spec not stated';
  const lines = [
    `# ${title}`,
    '',
    `${summary.trials} trials on one ${setup?.where === 'lab' ? 'lab' : 'target'} (${spec}), ${setup?.rate ?? '?'} requests/s. Before each fault the warm-up ran a random 0–1 check interval longer, and before each heal the run waited a random 0–1 interval more (seeded), so faults and restarts landed at different points of the check cycle. Times in seconds.`,
    '',
    '## Spread, and the window the spec predicts',
    '',
    '| measure | median [95% CI] | min | max | p90 | window the spec predicts | every trial inside |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const measure of summary.measures) {
    const missing = measure.values.filter((value) => value === null).length;
    const stats = measure.stats;
    lines.push(
      `| ${measure.label}${missing ? ` (${missing} of ${summary.trials} without a value)` : ''} | ${medianWithInterval(measure)} | ${shown(measure.measure, stats?.min ?? null)} | ${shown(measure.measure, stats?.max ?? null)} | ${shown(measure.measure, stats?.p90 ?? null)} | ${measure.window ? `${measure.window.low.toFixed(2)}–${measure.window.high.toFixed(2)}${measure.modelled ? ' (model)' : ''}` : '—'} | ${insideCell(measure)} |`,
    );
  }
  if (summary.measures.some((measure) => measure.modelled && measure.window)) {
    lines.push(
      '',
      "The windows of a target come from a model of Google Cloud's documented probing, not from a guarantee: Google does not document how its probers' verdicts combine, nor how long it takes to apply one (`--apply-delay` is the allowance for that). A trial outside its window is an observation to explain (what did the load balancer do that the model leaves out?), not a failed run.",
    );
  }
  lines.push('', '![Each trial against the window the spec predicts](trials.svg)', '', '## Each trial', '');
  const header = ['trial', 'fault at', ...summary.measures.map((measure) => measure.label), 'report'];
  lines.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 || i === header.length - 1 ? '---' : '---:')).join('|')}|`);
  runs.forEach((run, index) => {
    const cells = summary.measures.map((measure) => shown(measure.measure, measure.values[index] ?? null));
    const faultAt = run.metrics.faultAt === null ? '—' : (run.metrics.faultAt / 1000).toFixed(2);
    lines.push(`| ${index + 1} | ${faultAt} | ${cells.join(' | ')} | [report](${relativeDir(run.dir)}/report.md) |`);
  });
  lines.push(
    '',
    '## How these numbers are computed',
    '',
    `- Median: the middle trial (the mean of the two middle ones for an even count); p90: nearest rank. The 95% interval of the median is a percentile bootstrap: ${summary.bootstrap.resamples} resamples of the trials with replacement, drawn by a generator seeded with ${summary.bootstrap.seed}, so the same trials always give the same interval.`,
  );
  for (const measure of summary.measures) if (measure.window) lines.push(`- Window for ${measure.label}: ${measure.window.formula}.`);
  return `${lines.join('\n')}\n`;
}

/** The strip plot of trials.svg: each trial a dot, the spec's window a band behind it (vega-lite). Pure. */
export function trialsChartSpec(summary: TrialsSummary): Record<string, unknown> {
  const times = summary.measures.filter((measure) => measure.measure !== 'failed');
  const dots = times.flatMap((measure) => measure.values.flatMap((value, index) => (value === null ? [] : [{ measure: measure.label, seconds: value, trial: index + 1 }])));
  const windows = times.flatMap((measure) => (measure.window ? [{ measure: measure.label, low: measure.window.low, high: measure.window.high }] : []));
  const y = { field: 'measure', type: 'nominal', title: null, sort: times.map((measure) => measure.label), axis: { labelLimit: 260 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 700,
    height: { step: 36 },
    title: 'Each trial (dots) against the window the spec predicts (band)',
    layer: [
      { data: { values: windows }, mark: { type: 'bar', color: '#54a24b', opacity: 0.18, height: { band: 0.7 } }, encoding: { y, x: { field: 'low', type: 'quantitative', title: 'seconds' }, x2: { field: 'high' } } },
      { data: { values: dots }, mark: { type: 'circle', size: 70, opacity: 0.6, color: '#4c78a8' }, encoding: { y, x: { field: 'seconds', type: 'quantitative' }, tooltip: [{ field: 'trial' }, { field: 'seconds' }] } },
    ],
  };
}

/** trials.svg, drawn by vega-lite and vega (loaded only here). */
export async function renderTrialsSvg(summary: TrialsSummary): Promise<string> {
  const [vegaLite, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const compiled = vegaLite.compile(trialsChartSpec(summary) as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
