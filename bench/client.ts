/**
 * `npm run bench:client`: against nginx on loopback in the same run, wrk's req/s with
 * keep-alive vs `zonelab client --keepalive --concurrency 64`, and the client's rate with a
 * new connection per request. Target: the client reaches ≥ 40% of wrk with keep-alive, so
 * the instrument is never the bottleneck at the rates the failover experiment uses.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { generateBucket } from '../src/content/index.js';
import { startNginx } from './lib/nginx.js';
import { haveCommand, median, stopProcess, waitForPort } from './lib/processes.js';
import { ratioRow, skipBenchmark, writeResults } from './lib/results.js';
import { runWrk, writeRandomPagesScript } from './lib/wrk.js';

const TARGET_RATIO = 0.4;
const PAGES = 10_000;
const CONCURRENCY = 64;
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

const { values: flags } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, repeat: { type: 'string', default: '3' } },
});
const seconds = Number(flags.seconds);
const repeat = Number(flags.repeat);

// Without keep-alive every request leaves a socket in TIME_WAIT for a minute, and Linux has
// about 28,000 ephemeral ports per destination: runs of new connections are kept short.
const FRESH_SECONDS = 4;

async function clientRate(port: number, keepalive: boolean): Promise<{ rate: number; failed: number }> {
  const args = [CLI, 'client', '-d', '127.0.0.1', '-p', String(port), '-b', 'bucket', '-w', 'webdir', '-i', String(PAGES), '-r', '1'];
  const duration = keepalive ? seconds : Math.min(seconds, FRESH_SECONDS);
  args.push('--concurrency', String(CONCURRENCY), '--duration', `${duration}s`, '--json', ...(keepalive ? ['--keepalive'] : []));
  const { stdout } = await run(process.execPath, args, { timeout: (seconds + 60) * 1000, maxBuffer: 16 * 1024 * 1024 });
  const summary = JSON.parse(stdout) as { achievedRate: number; failed: number };
  return { rate: summary.achievedRate, failed: summary.failed };
}

async function main(): Promise<void> {
  const missing = ['wrk', 'nginx'].filter((command) => !haveCommand(command));
  if (missing.length > 0) {
    skipBenchmark('client', missing);
  }
  const dir = await mkdtemp(join(tmpdir(), 'zonelab-bench-client-'));
  const port = 18_475;
  const nginx = await startNginx(dir, dir, port);
  try {
    await generateBucket({ out: join(dir, 'bucket'), webdir: 'webdir', count: PAGES, seed: 1 });
    await waitForPort('127.0.0.1', port);
    const script = join(dir, 'random-pages.lua');
    await writeRandomPagesScript(script, '/bucket/webdir/', PAGES);
    const url = `http://127.0.0.1:${port}`;
    process.stderr.write('warming up nginx…\n');
    await runWrk({ url, script, seconds: 2, connections: CONCURRENCY, threads: 1 });

    const wrk: number[] = [];
    const keepalive: number[] = [];
    const fresh: number[] = [];
    let failed = 0;
    let freshFailed = 0;
    for (let round = 1; round <= repeat; round++) {
      process.stderr.write(`round ${round}/${repeat}: wrk, client --keepalive, client new connections (${seconds} s each)…\n`);
      wrk.push((await runWrk({ url, script, seconds, connections: CONCURRENCY, threads: 1 })).requestsPerSec);
      const pooled = await clientRate(port, true);
      const unpooled = await clientRate(port, false);
      keepalive.push(pooled.rate);
      fresh.push(unpooled.rate);
      failed += pooled.failed;
      freshFailed += unpooled.failed;
    }
    const wrkRate = median(wrk);
    const keepaliveRate = median(keepalive);
    const freshRate = median(fresh);
    const ratio = keepaliveRate / wrkRate;
    const pass = ratio >= TARGET_RATIO && failed === 0;

    console.log(`\nclient benchmark: nginx (1 worker) on loopback, ${PAGES} random pages, ${CONCURRENCY} connections, ${seconds} s x ${repeat} (median), ${cpus().length} cores`);
    console.log('| load generator | req/s | failed |');
    console.log('|---|---:|---:|');
    console.log(`| wrk -t1 -c${CONCURRENCY} (keep-alive) | ${Math.round(wrkRate)} | - |`);
    console.log(`| zonelab client --keepalive --concurrency ${CONCURRENCY} | ${Math.round(keepaliveRate)} | ${failed} |`);
    console.log(`| zonelab client --concurrency ${CONCURRENCY} (new connection per request, ${Math.min(seconds, FRESH_SECONDS)} s) | ${Math.round(freshRate)} | ${freshFailed} |`);
    console.log(`\nratio client/wrk with keep-alive: ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}): ${pass ? 'PASS' : 'FAIL'}`);
    const rows = [
      ratioRow({
        benchmark: 'client',
        measure: `client req/s, keep-alive, ${CONCURRENCY} connections`,
        unit: 'req/s',
        zonelab: keepaliveRate,
        baselineName: 'wrk',
        baseline: wrkRate,
        target: `≥ ${TARGET_RATIO}`,
        pass,
        ...(failed ? { note: `${failed} failed requests` } : {}),
      }),
      ratioRow({ benchmark: 'client', measure: 'client req/s, a new connection per request', unit: 'req/s', zonelab: freshRate, baselineName: 'wrk (keep-alive)', baseline: wrkRate, target: '—', pass: null }),
    ];
    const file = await writeResults('client', { seconds, repeat, concurrency: CONCURRENCY, wrk, keepalive, fresh, wrkRate, keepaliveRate, freshRate, freshFailed, ratio, target: TARGET_RATIO, pass }, rows);
    console.log(`results: ${file}`);
    process.exitCode = pass ? 0 : 1;
  } finally {
    await stopProcess(nginx);
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:client failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
