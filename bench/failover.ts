/**
 * `npm run bench:failover`: the failover experiment on local labs, `--repeat` trials per case
 * on one lab each (median, with its 95% bootstrap interval):
 * `gcp-default` and `fast` with SIGKILL (time to reroute and time to return, each next to the
 * bound the spec implies: the "baseline" a load balancer with those health checks must
 * meet), and `zero-error` with SIGTERM (failed requests, target 0).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateBucket } from '../src/content/index.js';
import { type ExperimentResult, medianWithInterval, runTrials } from '../src/failover/index.js';
import type { FaultKind } from '../src/records/index.js';
import { benchExperiment } from './lib/experiment.js';
import { detectionBoundSec, type ProfileName, resolveSpec, returnBoundSec } from '../src/lb/index.js';
import { haveCommand, median } from './lib/processes.js';
import { type BenchRow, ratioRow, skipBenchmark, writeResults } from './lib/results.js';

const { values: flags } = parseArgs({ options: { repeat: { type: 'string', default: '3' }, rate: { type: 'string', default: '100' } } });
const repeat = Number(flags.repeat);
const rate = Number(flags.rate);

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
      const seconds = (values: (number | null)[]) => (values.some((value) => value === null) ? null : median(values as number[]) / 1000);
      if (fault === 'term') {
        const failed = median(metrics.map((m) => m.errors.count));
        rows.push(ratioRow({ benchmark: 'failover', measure: `${profile}, ${fault}: failed requests at ${rate} req/s`, unit: 'requests', zonelab: failed, baselineName: '', baseline: null, target: '0', pass: failed === 0, note: interval('failed') }));
        continue;
      }
      const reroute = seconds(metrics.map((m) => (m.rerouted ? m.timeToRerouteMs : null)));
      const back = seconds(metrics.map((m) => (m.returned ? m.timeToReturnFromReadyMs : null)));
      rows.push(
        ratioRow({
          benchmark: 'failover',
          measure: `${profile}, ${fault}: time to reroute`,
          unit: 's',
          zonelab: reroute,
          baselineName: 'bound from the health checks',
          baseline: detectionBoundSec(spec),
          target: '≤ 1 (within the bound)',
          pass: reroute !== null && reroute <= detectionBoundSec(spec),
          note: interval('reroute'),
        }),
        ratioRow({
          benchmark: 'failover',
          measure: `${profile}, ${fault}: time to return, from ready`,
          unit: 's',
          zonelab: back,
          baselineName: 'bound from the health checks',
          baseline: returnBoundSec(spec),
          target: '≤ 1 (within the bound)',
          pass: back !== null && back <= returnBoundSec(spec),
          note: interval('return-ready'),
        }),
      );
    }
    console.log('\n| measure | median of trials [95% CI] | bound | result |\n|---|---:|---:|---|');
    for (const row of rows) console.log(`| ${row.measure} | ${row.zonelab === null ? '—' : `${Number(row.zonelab.toFixed(2))} ${row.unit}`} (${row.note ?? ''}) | ${row.baseline ?? row.target} | ${row.pass ? 'PASS' : 'FAIL'} |`);
    const file = await writeResults('failover', { repeat, rate, runs: all }, rows);
    console.log(`results: ${file}`);
    process.exitCode = rows.every((row) => row.pass !== false) && !stop.signal.aborted ? 0 : 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:failover failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
