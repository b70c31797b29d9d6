/**
 * `npm run bench:failover`: the failover experiment on local labs, `--repeat` trials per case
 * on one lab each (median, with its 95% bootstrap interval):
 * `gcp-default` and `fast` with SIGKILL (time to reroute and time to return, each next to the
 * bound the spec implies: the "baseline" a load balancer with those health checks must
 * meet), and `zero-error` with SIGTERM (failed requests, target 0).
 *
 * Then the run under load, a new connection per request: the highest open-loop rate of
 * `--load-rates` at which a whole `fast` × `kill` run (recorder, tracker, report) keeps its
 * schedule (worst lag < 50 ms, nothing left unsent) and still measures a reroute and a
 * return (target ≥ 2,000 requests/s), with what the run's own process grew by; and
 * `zero-error` × `term` and `fast` × `kill` at 100, 1,000 and that rate, next to the
 * 100 requests/s figures.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateBucket } from '../src/content/index.js';
import { type ExperimentResult, medianWithInterval, runExperiment, runTrials } from '../src/failover/index.js';
import type { FaultKind } from '../src/records/index.js';
import { benchExperiment } from './lib/experiment.js';
import { detectionBoundSec, type ProfileName, resolveSpec, returnBoundSec } from '../src/lb/index.js';
import { haveCommand, median } from './lib/processes.js';
import { type BenchRow, ratioRow, skipBenchmark, writeResults } from './lib/results.js';

const { values: flags } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    rate: { type: 'string', default: '100' },
    'load-rates': { type: 'string', default: '1000,2000,3000,4000,6000,8000' },
  },
});
const repeat = Number(flags.repeat);
const rate = Number(flags.rate);
const loadRates = flags['load-rates'].split(',').map(Number).filter((value) => value > 0).sort((a, b) => a - b);
const SUSTAINED_TARGET = 2000;
const WORST_LAG_MS = 50;

const CASES: { profile: ProfileName; fault: FaultKind }[] = [
  { profile: 'gcp-default', fault: 'kill' },
  { profile: 'fast', fault: 'kill' },
  { profile: 'zero-error', fault: 'term' },
];

async function main(): Promise<void> {
  if (!haveCommand('haproxy')) skipBenchmark('failover', ['haproxy']);
  const dir = await mkdtemp(join(tmpdir(), 'zonelab-bench-failover-'));
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  try {
    await generateBucket({ out: join(dir, 'bucket'), webdir: 'webdir', count: 1000, seed: 1 });
    const rows: BenchRow[] = [];
    const all: Record<string, unknown[]> = {};
    for (const { profile, fault } of CASES) {
      const spec = { ...resolveSpec(profile), port: 18_540 };
      process.stderr.write(`${profile} × ${fault}: ${repeat} trials…\n`);
      const trials = await runTrials({
        ...benchExperiment({ dir, spec, listenPort: 18_541, fault, rate, outDir: join(dir, `${profile}-${fault}`), command: `zonelab failover --profile ${profile} --fault ${fault} --trials ${repeat}`, signal: stop.signal }),
        trials: repeat,
      });
      const results: ExperimentResult[] = trials.runs;
      const interval = (measure: string) => {
        const found = trials.summary.measures.find((entry) => entry.measure === measure);
        return found ? `median [95% CI] ${medianWithInterval(found)}` : '';
      };
      const metrics = results.map((result) => result.metrics);
      all[`${profile}-${fault}`] = metrics.map((m) => ({ reroute: m.timeToRerouteMs, returnFromReady: m.timeToReturnFromReadyMs, failed: m.errors.count }));
      if (fault === 'term') {
        const failed = median(metrics.map((m) => m.errors.count));
        rows.push(failedRow(`${profile}, ${fault}: failed requests at ${rate} req/s`, failed, interval('failed')));
        continue;
      }
      const reroute = seconds(metrics.map((m) => (m.rerouted ? m.timeToRerouteMs : null)));
      const back = seconds(metrics.map((m) => (m.returned ? m.timeToReturnFromReadyMs : null)));
      rows.push(
        withinBoundRow(`${profile}, ${fault}: time to reroute`, reroute, detectionBoundSec(spec), interval('reroute')),
        withinBoundRow(`${profile}, ${fault}: time to return, from ready`, back, returnBoundSec(spec), interval('return-ready')),
      );
    }
    rows.push(...(await underLoad(dir, stop.signal, all)));
    console.log('\n| measure | median of trials [95% CI] | bound | result |\n|---|---:|---:|---|');
    for (const row of rows) console.log(`| ${row.measure} | ${row.zonelab === null ? '—' : `${Number(row.zonelab.toFixed(2))} ${row.unit}`} (${row.note ?? ''}) | ${row.baseline ?? row.target} | ${row.pass ? 'PASS' : 'FAIL'} |`);
    const file = await writeResults('failover', { repeat, rate, runs: all }, rows);
    console.log(`results: ${file}`);
    process.exitCode = rows.every((row) => row.pass !== false) && !stop.signal.aborted ? 0 : 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A row for failed requests, whose target is none. */
function failedRow(measure: string, failed: number, note: string): BenchRow {
  return ratioRow({ benchmark: 'failover', measure, unit: 'requests', zonelab: failed, baselineName: '', baseline: null, target: '0', pass: failed === 0, note });
}

/** A row for a time that must stay within the bound the spec's health checks imply. */
function withinBoundRow(measure: string, valueSec: number | null, boundSec: number, note: string): BenchRow {
  return ratioRow({
    benchmark: 'failover',
    measure,
    unit: 's',
    zonelab: valueSec,
    baselineName: 'bound from the health checks',
    baseline: boundSec,
    target: '≤ 1 (within the bound)',
    pass: valueSec !== null && valueSec <= boundSec,
    note,
  });
}

const seconds = (values: (number | null)[]) => (values.some((value) => value === null) ? null : median(values as number[]) / 1000);

/** One `fast` × `kill` run at `rate`: whether it kept its schedule and measured both ends, and why not. */
async function sustains(dir: string, load: number, signal: AbortSignal): Promise<{ ok: boolean; why: string; rssGrowthMiB: number }> {
  const spec = { ...resolveSpec('fast'), port: 18_540 };
  const rssBefore = process.memoryUsage().rss;
  const result = await runExperiment(benchExperiment({ dir, spec, listenPort: 18_541, fault: 'kill', rate: load, outDir: join(dir, `sustain-${load}`), command: `zonelab failover --profile fast --rate ${load}`, signal }));
  const rssGrowthMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  const unsent = (result.metrics.loadUnsent ?? []).reduce((sum, episode) => sum + episode.count, 0);
  const problems = [
    ...(result.maxLagMs >= WORST_LAG_MS ? [`worst lag ${Math.round(result.maxLagMs)} ms`] : []),
    ...(unsent > 0 ? [`${unsent} requests unsent`] : []),
    ...(result.metrics.rerouted ? [] : ['no reroute measured']),
    ...(result.metrics.returned ? [] : ['no return measured']),
  ];
  return { ok: problems.length === 0 && !result.interrupted, why: problems.join(', ') || `worst lag ${Math.round(result.maxLagMs)} ms`, rssGrowthMiB };
}

/** The sustainable-rate row, then the two faults at 100, 1,000 and that rate. */
async function underLoad(dir: string, signal: AbortSignal, all: Record<string, unknown[]>): Promise<BenchRow[]> {
  let highest = 0;
  let growth = 0;
  const tried: string[] = [];
  for (const load of loadRates) {
    if (signal.aborted) break;
    process.stderr.write(`fast × kill at ${load} requests/s: does the run keep its schedule?\n`);
    const verdict = await sustains(dir, load, signal);
    tried.push(`${load}: ${verdict.ok ? 'kept' : verdict.why}`);
    if (!verdict.ok) break;
    highest = load;
    growth = verdict.rssGrowthMiB;
  }
  all.sustained = tried;
  const rows: BenchRow[] = [
    ratioRow({
      benchmark: 'failover',
      measure: `highest sustainable rate of a whole fast × kill run, a new connection per request (worst lag < ${WORST_LAG_MS} ms, nothing unsent, reroute and return measured)`,
      unit: 'req/s',
      zonelab: highest || null,
      baselineName: 'target',
      baseline: SUSTAINED_TARGET,
      target: `≥ ${SUSTAINED_TARGET} req/s`,
      pass: highest >= SUSTAINED_TARGET,
      note: `${tried.join('; ')}; the run's process grew by ${growth.toFixed(0)} MiB at that rate`,
    }),
  ];
  const rates = [...new Set([100, 1000, highest].filter((value) => value > 0))];
  for (const { profile, fault } of [{ profile: 'zero-error', fault: 'term' }, { profile: 'fast', fault: 'kill' }] as const) {
    let atHundred: { failed: number; reroute: number | null } | null = null;
    for (const load of rates) {
      if (signal.aborted) break;
      const spec = { ...resolveSpec(profile), port: 18_540 };
      process.stderr.write(`failover under load: ${profile} × ${fault} at ${load} requests/s, ${repeat} trials…\n`);
      const trials = await runTrials({
        ...benchExperiment({ dir, spec, listenPort: 18_541, fault, rate: load, outDir: join(dir, `load-${profile}-${fault}-${load}`), command: `zonelab failover --profile ${profile} --fault ${fault} --rate ${load} --trials ${repeat}`, signal }),
        trials: repeat,
      });
      const metrics = trials.runs.map((run) => run.metrics);
      const failed = median(metrics.map((m) => m.errors.count));
      const reroute = seconds(metrics.map((m) => (m.rerouted ? m.timeToRerouteMs : null)));
      all[`load-${profile}-${fault}-${load}`] = metrics.map((m) => ({ reroute: m.timeToRerouteMs, failed: m.errors.count, loadBehindMs: m.loadBehindMs }));
      atHundred ??= { failed, reroute };
      const detail = `failed requests (median of ${repeat}) ${failed} vs ${atHundred.failed} at 100 req/s; reroute ${reroute?.toFixed(2) ?? '—'} s vs ${atHundred.reroute?.toFixed(2) ?? '—'} s`;
      rows.push(
        fault === 'term'
          ? failedRow(`failover under load: ${profile} × ${fault} at ${load} req/s, failed requests`, failed, detail)
          : withinBoundRow(`failover under load: ${profile} × ${fault} at ${load} req/s, time to reroute`, reroute, detectionBoundSec(spec), detail),
      );
    }
  }
  return rows;
}

main().catch((error: unknown) => {
  console.error(`bench:failover failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
