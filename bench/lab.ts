/**
 * `npm run bench:lab`: the same HAProxy config (profile fast, tcp) in front of two
 * `zonelab serve` backends (a real lab) and in front of two nginx backends (one worker
 * each) serving the same pages, in the same run; wrk's req/s through each load balancer
 * and the ratio. Target ≥ 0.9: HAProxy should be the limit, never our servers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateBucket } from '../src/content/index.js';
import { startLab } from '../src/lab/index.js';
import { renderHaproxyConfig, resolveSpec, showServers } from '../src/lb/index.js';
import { startNginx } from './lib/nginx.js';
import { haveCommand, median, startProcess, stopProcess, waitForPort } from './lib/processes.js';
import { ratioRow, skipBenchmark, writeResults } from './lib/results.js';
import { runWrk, type WrkResult, writeRandomPagesScript } from './lib/wrk.js';

const TARGET_RATIO = 0.9;
const PAGES = 10_000;
const CONNECTIONS = 64;

const { values: flags } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, repeat: { type: 'string', default: '3' } },
});
const seconds = Number(flags.seconds);
const repeat = Number(flags.repeat);

async function main(): Promise<void> {
  const missing = ['wrk', 'nginx', 'haproxy'].filter((command) => !haveCommand(command));
  if (missing.length > 0) {
    skipBenchmark('lab', missing);
  }
  const dir = await mkdtemp(join(tmpdir(), 'zonelab-bench-lab-'));
  const stoppers: (() => Promise<void>)[] = [];
  try {
    await generateBucket({ out: join(dir, 'bucket'), webdir: 'webdir', count: PAGES, seed: 1 });
    const spec = { ...resolveSpec('fast'), port: 18_520 };
    process.stderr.write('starting the lab (HAProxy + two zonelab servers)…\n');
    const lab = await startLab({
      zones: ['zone-a', 'zone-b'],
      instancesPerZone: 1,
      spec,
      listenHost: '127.0.0.1',
      listenPort: 18_521,
      bucket: join(dir, 'bucket'),
      dir: join(dir, 'lab'),
    });
    stoppers.push(() => lab.down());

    process.stderr.write('starting the same HAProxy config in front of two nginx…\n');
    const nginxPort = 18_522;
    for (const host of ['127.0.1.1', '127.0.1.2']) {
      const nginx = await startNginx(join(dir, `nginx-${host}`), dir, nginxPort, host);
      stoppers.push(() => stopProcess(nginx));
      await waitForPort(host, nginxPort);
    }
    const config = renderHaproxyConfig(
      spec,
      [
        { name: 'nginx-a', host: '127.0.1.1', port: nginxPort, zone: 'zone-a' },
        { name: 'nginx-b', host: '127.0.1.2', port: nginxPort, zone: 'zone-b' },
      ],
      { listenHost: '127.0.0.1', listenPort: 18_523, statsSocket: join(dir, 'nginx-haproxy.sock') },
    );
    await writeFile(join(dir, 'nginx-haproxy.cfg'), config);
    const haproxy = startProcess('haproxy', ['-db', '-f', join(dir, 'nginx-haproxy.cfg')]);
    stoppers.push(() => stopProcess(haproxy));
    await waitForPort('127.0.0.1', 18_523);
    const deadline = Date.now() + 15_000;
    const allUp = async () => {
      const stats = await showServers(join(dir, 'nginx-haproxy.sock')).catch(() => []);
      return stats.length === 2 && stats.every((stat) => stat.status === 'UP');
    };
    while (!(await allUp())) {
      if (Date.now() > deadline) throw new Error('HAProxy did not report the nginx backends UP');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const script = join(dir, 'random-pages.lua');
    await writeRandomPagesScript(script, '/bucket/webdir/', PAGES);
    const targets = [
      { name: 'HAProxy → 2 × zonelab serve', url: 'http://127.0.0.1:18521' },
      { name: 'HAProxy → 2 × nginx', url: 'http://127.0.0.1:18523' },
    ];
    const runs = new Map<string, WrkResult[]>(targets.map((t) => [t.name, []]));
    for (const target of targets) await runWrk({ url: target.url, script, seconds: 3, connections: CONNECTIONS, threads: 1 });
    for (let round = 1; round <= repeat; round++) {
      for (const target of targets) {
        process.stderr.write(`round ${round}/${repeat}: ${target.name}, ${seconds} s…\n`);
        runs.get(target.name)!.push(await runWrk({ url: target.url, script, seconds, connections: CONNECTIONS, threads: 1 }));
      }
    }
    const rows = targets.map((t) => {
      const results = runs.get(t.name)!;
      return {
        name: t.name,
        requestsPerSec: median(results.map((r) => r.requestsPerSec)),
        p99Ms: median(results.map((r) => r.p99Ms)),
        errors: results.reduce((sum, r) => sum + r.errors, 0),
      };
    });
    const ratio = rows[0]!.requestsPerSec / rows[1]!.requestsPerSec;
    const pass = ratio >= TARGET_RATIO && rows.every((row) => row.errors === 0);
    console.log(`\nlab benchmark: wrk -t1 -c${CONNECTIONS} through HAProxy (profile fast, tcp), ${PAGES} random pages, ${seconds} s x ${repeat} (median), ${cpus().length} cores`);
    console.log('| behind the load balancer | req/s | p99 latency | errors |');
    console.log('|---|---:|---:|---:|');
    for (const row of rows) console.log(`| ${row.name} | ${Math.round(row.requestsPerSec)} | ${row.p99Ms.toFixed(2)} ms | ${row.errors} |`);
    console.log(`\nratio zonelab/nginx behind HAProxy: ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}): ${pass ? 'PASS' : 'FAIL'}`);
    const table = [
      ratioRow({
        benchmark: 'lab',
        measure: `req/s through HAProxy to 2 backends, wrk -c${CONNECTIONS}`,
        unit: 'req/s',
        zonelab: rows[0]!.requestsPerSec,
        baselineName: '2 nginx backends, same HAProxy config',
        baseline: rows[1]!.requestsPerSec,
        target: `≥ ${TARGET_RATIO}`,
        pass,
      }),
    ];
    const file = await writeResults('lab', { seconds, repeat, connections: CONNECTIONS, rows, ratio, target: TARGET_RATIO, pass, runs: Object.fromEntries(runs) }, table);
    console.log(`results: ${file}`);
    process.exitCode = pass ? 0 : 1;
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:lab failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
