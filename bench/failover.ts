/**
 * `npm run bench:failover`: the failover experiment on local labs, 3 runs per case (median):
 * `gcp-default` and `fast` with SIGKILL (time to reroute and time to return, each next to the
 * bound the spec implies: the "baseline" a load balancer with those health checks must
 * meet), and `zero-error` with SIGTERM (failed requests, target 0).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateBucket } from '../src/content/index.js';
import { type ExperimentResult, runExperiment } from '../src/failover/index.js';
import { type FaultKind, parseFault } from '../src/records/index.js';
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
      const results: ExperimentResult[] = [];
      for (let run = 1; run <= repeat && !stop.signal.aborted; run++) {
        process.stderr.write(`${profile} × ${fault}: run ${run}/${repeat}…\n`);
        results.push(
          await runExperiment({
            lab: { zones: ['us-east1-b', 'us-east1-c'], instancesPerZone: 1, spec, listenHost: '127.0.0.1', listenPort: 18_541, bucket: join(dir, 'bucket') },
            pages: { webdir: 'webdir', index: 1000 },
            fault: parseFault(fault),
            faultZone: 'us-east1-b',
            rate,
            keepalive: false,
            // The experiment's own warm-up: load runs before the fault in every run.
            warmupMs: 3000,
            holdMs: 3000,
            maxWaitMs: 60_000,
            outDir: join(dir, `${profile}-${fault}-${run}`),
            command: `zonelab failover --profile ${profile} --fault ${fault}`,
            signal: stop.signal,
          }),
        );
      }
      const metrics = results.map((result) => result.metrics);
      all[`${profile}-${fault}`] = metrics.map((m) => ({ reroute: m.timeToRerouteMs, returnFromReady: m.timeToReturnFromReadyMs, failed: m.errors.count }));
      const seconds = (values: (number | null)[]) => (values.some((value) => value === null) ? null : median(values as number[]) / 1000);
      if (fault === 'term') {
        const failed = median(metrics.map((m) => m.errors.count));
        rows.push(ratioRow({ benchmark: 'failover', measure: `${profile}, ${fault}: failed requests at ${rate} req/s`, unit: 'requests', zonelab: failed, baselineName: '', baseline: null, target: '0', pass: failed === 0 }));
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
        }),
      );
    }
    console.log('\n| measure | median of runs | bound | result |\n|---|---:|---:|---|');
    for (const row of rows) console.log(`| ${row.measure} | ${row.zonelab === null ? '—' : `${Number(row.zonelab.toFixed(2))} ${row.unit}`} | ${row.baseline ?? row.target} | ${row.pass ? 'PASS' : 'FAIL'} |`);
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
