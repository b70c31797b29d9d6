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
 * 100 requests/s figures. Last, one run at that rate with a long warm-up (`--long-warmup`,
 * 60 s): how much the run's process grows per minute of steady load, once it is warm (from
 * 10 s in to the end of the warm-up), since a run streams its records to disk.
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
    'long-warmup': { type: 'string', default: '60' },
  },
});
const repeat = Number(flags.repeat);
const rate = Number(flags.rate);
const loadRates = flags['load-rates'].split(',').map(Number).filter((value) => value > 0).sort((a, b) => a - b);
const longWarmupSec = Number(flags['long-warmup']);
const SUSTAINED_TARGET = 2000;
/** Resident memory a long run may gain per minute of steady load: far below what keeping its records would (about 24 MiB a minute at 2,000 requests/s, measured). */
const GROWTH_TARGET_MIB_PER_MIN = 8;
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
  if (highest > 0 && !signal.aborted) rows.push(await longRunGrowth(dir, highest, signal, all));
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

/** One fast × kill run at `load` with a long warm-up, resident memory sampled every second; growth per minute from 10 s in to the warm-up's end. */
async function longRunGrowth(dir: string, load: number, signal: AbortSignal, all: Record<string, unknown[]>): Promise<BenchRow> {
  process.stderr.write(`fast × kill at ${load} requests/s with a ${longWarmupSec} s warm-up: does the run's memory stay flat?\n`);
  const spec = { ...resolveSpec('fast'), port: 18_540 };
  const started = performance.now();
  let phase = 'warm-up';
  const samples: { atSec: number; rssMiB: number }[] = [];
  const sampler = setInterval(() => {
    if (phase.startsWith('warm-up')) samples.push({ atSec: (performance.now() - started) / 1000, rssMiB: process.memoryUsage().rss / 2 ** 20 });
  }, 1000);
  try {
    await runExperiment({
      ...benchExperiment({ dir, spec, listenPort: 18_541, fault: 'kill', rate: load, outDir: join(dir, `long-${load}`), command: `zonelab failover --profile fast --rate ${load} --warmup ${longWarmupSec}s`, signal }),
      warmupMs: longWarmupSec * 1000,
      onStatus: (line) => {
        phase = line;
      },
    });
  } finally {
    clearInterval(sampler);
  }
  const steady = samples.filter((sample) => sample.atSec >= 10);
  const first = steady[0];
  const last = steady.at(-1);
  const perMinute = first && last && last.atSec - first.atSec >= 10 ? ((last.rssMiB - first.rssMiB) / (last.atSec - first.atSec)) * 60 : null;
  all.longRun = samples.map((sample) => [Math.round(sample.atSec), Math.round(sample.rssMiB)]);
  return ratioRow({
    benchmark: 'failover',
    measure: `resident memory of a run's own process over a ${longWarmupSec} s warm-up at ${load} req/s, per minute of steady load`,
    unit: 'MiB/min',
    zonelab: perMinute,
    baselineName: 'target',
    baseline: GROWTH_TARGET_MIB_PER_MIN,
    target: `≤ ${GROWTH_TARGET_MIB_PER_MIN} MiB/min`,
    pass: perMinute !== null && perMinute <= GROWTH_TARGET_MIB_PER_MIN,
    note: first && last ? `${first.rssMiB.toFixed(0)} MiB at ${first.atSec.toFixed(0)} s, ${last.rssMiB.toFixed(0)} MiB at ${last.atSec.toFixed(0)} s` : 'too few samples',
  });
}

main().catch((error: unknown) => {
  console.error(`bench:failover failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
