/**
 * `npm run bench:client`: against nginx on loopback in the same run, the client next to wrk
 * doing the same work: with keep-alive (`zonelab client --keepalive --concurrency 64` vs
 * wrk -c64), and with a new connection per request, the experiment's default and the course
 * client's way (`zonelab client --concurrency 64` vs wrk -c64 sending `Connection: close`,
 * so it too connects once per request). Targets: ≥ 0.5 of wrk with keep-alive, ≥ 0.7 with
 * new connections, so the instrument is never what limits a failover run.
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

const KEEPALIVE_TARGET = 0.5;
const FRESH_TARGET = 0.7;
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
const FRESH_SECONDS = Math.min(seconds, 4);

async function clientRate(port: number, keepalive: boolean): Promise<{ rate: number; failed: number }> {
  const args = [CLI, 'client', '-d', '127.0.0.1', '-p', String(port), '-b', 'bucket', '-w', 'webdir', '-i', String(PAGES), '-r', '1'];
  const duration = keepalive ? seconds : FRESH_SECONDS;
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
    const closingScript = join(dir, 'random-pages-close.lua');
    await writeRandomPagesScript(closingScript, '/bucket/webdir/', PAGES, { Connection: 'close' });
    const url = `http://127.0.0.1:${port}`;
    process.stderr.write('warming up nginx…\n');
    await runWrk({ url, script, seconds: 2, connections: CONCURRENCY, threads: 1 });

    const figures = { wrk: [] as number[], wrkClose: [] as number[], keepalive: [] as number[], fresh: [] as number[] };
    let failed = 0;
    let freshFailed = 0;
    for (let round = 1; round <= repeat; round++) {
      process.stderr.write(`round ${round}/${repeat}: wrk and client with keep-alive (${seconds} s each), then both with a new connection per request (${FRESH_SECONDS} s each)…\n`);
      figures.wrk.push((await runWrk({ url, script, seconds, connections: CONCURRENCY, threads: 1 })).requestsPerSec);
      const pooled = await clientRate(port, true);
      figures.keepalive.push(pooled.rate);
      failed += pooled.failed;
      figures.wrkClose.push((await runWrk({ url, script: closingScript, seconds: FRESH_SECONDS, connections: CONCURRENCY, threads: 1 })).requestsPerSec);
      const unpooled = await clientRate(port, false);
      figures.fresh.push(unpooled.rate);
      freshFailed += unpooled.failed;
    }
    const wrkRate = median(figures.wrk);
    const wrkCloseRate = median(figures.wrkClose);
    const keepaliveRate = median(figures.keepalive);
    const freshRate = median(figures.fresh);
    const keepaliveRatio = keepaliveRate / wrkRate;
    const freshRatio = freshRate / wrkCloseRate;
    const keepalivePass = keepaliveRatio >= KEEPALIVE_TARGET && failed === 0;
    const freshPass = freshRatio >= FRESH_TARGET && freshFailed === 0;

    console.log(`\nclient benchmark: nginx (1 worker) on loopback, ${PAGES} random pages, ${CONCURRENCY} connections, ${seconds} s (new connections ${FRESH_SECONDS} s) x ${repeat} (median), ${cpus().length} cores`);
    console.log('| load generator | req/s | failed |');
    console.log('|---|---:|---:|');
    console.log(`| wrk -t1 -c${CONCURRENCY} (keep-alive) | ${Math.round(wrkRate)} | - |`);
    console.log(`| zonelab client --keepalive --concurrency ${CONCURRENCY} | ${Math.round(keepaliveRate)} | ${failed} |`);
    console.log(`| wrk -t1 -c${CONCURRENCY} -H 'Connection: close' (new connection per request) | ${Math.round(wrkCloseRate)} | - |`);
    console.log(`| zonelab client --concurrency ${CONCURRENCY} (new connection per request) | ${Math.round(freshRate)} | ${freshFailed} |`);
    console.log(`\nratio client/wrk with keep-alive: ${keepaliveRatio.toFixed(2)} (target ≥ ${KEEPALIVE_TARGET}): ${keepalivePass ? 'PASS' : 'FAIL'}`);
    console.log(`ratio client/wrk with a new connection per request: ${freshRatio.toFixed(2)} (target ≥ ${FRESH_TARGET}): ${freshPass ? 'PASS' : 'FAIL'}`);
    const rows = [
      ratioRow({
        benchmark: 'client',
        measure: `client req/s, keep-alive, ${CONCURRENCY} connections`,
        unit: 'req/s',
        zonelab: keepaliveRate,
        baselineName: 'wrk',
        baseline: wrkRate,
        target: `≥ ${KEEPALIVE_TARGET}`,
        pass: keepalivePass,
        ...(failed ? { note: `${failed} failed requests` } : {}),
      }),
      ratioRow({
        benchmark: 'client',
        measure: `client req/s, a new connection per request, ${CONCURRENCY} at once`,
        unit: 'req/s',
        zonelab: freshRate,
        baselineName: "wrk, 'Connection: close'",
        baseline: wrkCloseRate,
        target: `≥ ${FRESH_TARGET}`,
        pass: freshPass,
        ...(freshFailed ? { note: `${freshFailed} failed requests` } : {}),
      }),
    ];
    const file = await writeResults('client', { seconds, freshSeconds: FRESH_SECONDS, repeat, concurrency: CONCURRENCY, ...figures, wrkRate, wrkCloseRate, keepaliveRate, freshRate, failed, freshFailed, keepaliveRatio, freshRatio, targets: { keepalive: KEEPALIVE_TARGET, fresh: FRESH_TARGET } }, rows);
    console.log(`results: ${file}`);
    process.exitCode = keepalivePass && freshPass ? 0 : 1;
  } finally {
    await stopProcess(nginx);
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:client failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
