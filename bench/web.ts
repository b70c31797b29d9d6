/**
 * `npm run bench:web`: does watching a run change what it measures? `fast × kill` runs on
 * local labs, alternately without and with `--web` and a headless Chromium drawing the
 * page the whole time (3 pairs by default). The time to reroute itself varies by up to a
 * check interval with where the kill lands in the check cycle, so the figures compared are
 * those that do not: how far the client's view lags HAProxy's own (reroute minus HAProxy's
 * DOWN, return minus HAProxy's UP), and how far the load generator fell behind. Target:
 * the medians with the page within 50 ms of those without.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateBucket } from '../src/content/index.js';
import { CHROMIUM_FLAGS, type ExperimentResult, findChromium, runExperiment } from '../src/failover/index.js';
import { resolveSpec } from '../src/lb/index.js';
import { createFailoverFeed, startLiveServer } from '../src/web/index.js';
import { benchExperiment } from './lib/experiment.js';
import { haveCommand, median } from './lib/processes.js';
import { type BenchRow, ratioRow, skipBenchmark, writeResults } from './lib/results.js';

const { values: flags } = parseArgs({ options: { repeat: { type: 'string', default: '3' }, rate: { type: 'string', default: '100' } } });
const repeat = Number(flags.repeat);
const rate = Number(flags.rate);
const TOLERANCE_MS = 50;

interface Sample {
  web: boolean;
  rerouteMs: number | null;
  rerouteMinusDownMs: number | null;
  returnMinusUpMs: number | null;
  lagMs: number;
}

function sampleOf(result: ExperimentResult, web: boolean): Sample {
  const m = result.metrics;
  return {
    web,
    rerouteMs: m.rerouted ? m.timeToRerouteMs : null,
    rerouteMinusDownMs: m.rerouted && m.timeToRerouteMs !== null && m.lb.downAfterFaultMs !== null ? m.timeToRerouteMs - m.lb.downAfterFaultMs : null,
    returnMinusUpMs: m.returned && m.timeToReturnFromReadyMs !== null && m.lb.upAfterReadyMs !== null ? m.timeToReturnFromReadyMs - m.lb.upAfterReadyMs : null,
    lagMs: result.maxLagMs,
  };
}

async function main(): Promise<void> {
  const chromiumPath = findChromium();
  const missing = [...(haveCommand('haproxy') ? [] : ['haproxy']), ...(chromiumPath ? [] : ['chromium'])];
  if (missing.length > 0) skipBenchmark('web', missing);
  const { chromium } = await import('playwright-core');
  const dir = await mkdtemp(join(tmpdir(), 'zonelab-bench-web-'));
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  const browser = await chromium.launch({ executablePath: chromiumPath!, args: CHROMIUM_FLAGS, headless: true });
  try {
    await generateBucket({ out: join(dir, 'bucket'), webdir: 'webdir', count: 1000, seed: 1 });
    const spec = { ...resolveSpec('fast'), port: 18_550 };
    const samples: Sample[] = [];
    for (let run = 0; run < repeat * 2 && !stop.signal.aborted; run++) {
      const web = run % 2 === 1;
      process.stderr.write(`fast × kill ${web ? 'with the live page in Chromium' : 'without a page'}: pair ${Math.floor(run / 2) + 1}/${repeat}…\n`);
      const live = web ? createFailoverFeed({ title: 'bench', zones: ['us-east1-b', 'us-east1-c'], spec }) : null;
      const server = live ? await startLiveServer({ feed: live.feed }) : null;
      const page = server ? await browser.newPage({ viewport: { width: 1100, height: 900 } }) : null;
      try {
        if (page && server) {
          await page.goto(server.url);
          await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
        }
        const result = await runExperiment({
          ...benchExperiment({ dir, spec, listenPort: 18_551, fault: 'kill', rate, outDir: join(dir, `run-${run}`), command: `zonelab failover --profile fast${web ? ' --web' : ''}`, signal: stop.signal }),
          watcher: live?.watcher,
        });
        samples.push(sampleOf(result, web));
      } finally {
        await page?.close();
        await server?.close();
        live?.feed.close();
      }
    }
    const medianOf = (web: boolean, pick: (sample: Sample) => number | null) => {
      const values = samples.filter((sample) => sample.web === web).map(pick);
      return values.length === 0 || values.some((value) => value === null) ? null : median(values as number[]);
    };
    const rows: BenchRow[] = [];
    const compared: [string, (sample: Sample) => number | null][] = [
      ['time to reroute minus HAProxy DOWN (client view vs LB view)', (s) => s.rerouteMinusDownMs],
      ['time to return from ready minus HAProxy UP after ready', (s) => s.returnMinusUpMs],
      ["load generator's worst lag behind its schedule", (s) => s.lagMs],
    ];
    for (const [measure, pick] of compared) {
      const withPage = medianOf(true, pick);
      const without = medianOf(false, pick);
      const close = withPage !== null && without !== null && Math.abs(withPage - without) <= TOLERANCE_MS;
      rows.push(
        ratioRow({
          benchmark: 'web',
          measure: `fast, kill at ${rate} req/s with --web and Chromium: ${measure}`,
          unit: 'ms',
          zonelab: withPage,
          baselineName: 'same, without --web',
          baseline: without,
          target: `within ${TOLERANCE_MS} ms`,
          pass: close,
        }),
      );
    }
    const reroute = (web: boolean) => {
      const value = medianOf(web, (s) => s.rerouteMs);
      return value === null ? null : value / 1000;
    };
    rows.push(
      ratioRow({
        benchmark: 'web',
        measure: `fast, kill: time to reroute with --web (varies by up to a check interval with the kill's moment in the check cycle)`,
        unit: 's',
        zonelab: reroute(true),
        baselineName: 'same, without --web',
        baseline: reroute(false),
        target: '',
        pass: null,
      }),
    );
    console.log('\n| measure | with --web (median) | without (median) | result |\n|---|---:|---:|---|');
    for (const row of rows) {
      const show = (value: number | null) => (value === null ? '—' : `${Number(value.toFixed(row.unit === 's' ? 2 : 1))} ${row.unit}`);
      console.log(`| ${row.measure} | ${show(row.zonelab)} | ${show(row.baseline)} | ${row.pass === null ? 'info' : row.pass ? 'PASS' : 'FAIL'} |`);
    }
    const file = await writeResults('web', { repeat, rate, samples }, rows);
    console.log(`results: ${file}`);
    process.exitCode = rows.every((row) => row.pass !== false) && !stop.signal.aborted ? 0 : 1;
  } finally {
    await browser.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:web failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
