/**
 * `npm run bench:server`: wrk drives `zonelab serve`, the smallest node:http server serving
 * the same 10,000 generated pages from memory (what node:http itself allows one process),
 * and nginx (one worker), random pages on loopback, interleaved in the same run; prints
 * req/s, p99 latency and the ratios. Target: zonelab ≥ 0.9 of the minimal node:http server,
 * with every rule, header, log and event of the real server in place; nginx for reference.
 * Then `serve --workers 2` next to nginx with 2 workers, and next to one zonelab process
 * (what a second worker buys on this machine, where wrk takes a core of its own). The
 * minimal server once more with zonelab's response headers tells what those bytes cost
 * apart from what zonelab's code costs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateBucket } from '../src/content/index.js';
import { startNginx } from './lib/nginx.js';
import { haveCommand, median, startProcess, stopProcess, waitForPort } from './lib/processes.js';
import { ratioRow, skipBenchmark, writeResults } from './lib/results.js';
import { runWrk, type WrkResult, writeRandomPagesScript } from './lib/wrk.js';

const TARGET_RATIO = 0.9;
const PAGES = 10_000;
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const MINIMAL_SERVER = fileURLToPath(new URL('./lib/minimal-node-server.js', import.meta.url));

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
  },
});
const seconds = Number(flags.seconds);
const warmup = Number(flags.warmup);
const repeat = Number(flags.repeat);
const connections = Number(flags.connections);

async function main(): Promise<void> {
  const missing = ['wrk', 'nginx'].filter((command) => !haveCommand(command));
  if (missing.length > 0) {
    skipBenchmark('server', missing);
  }
  const dir = await mkdtemp(join(tmpdir(), 'zonelab-bench-'));
  const children: Parameters<typeof stopProcess>[0][] = [];
  try {
    process.stderr.write(`generating ${PAGES} pages…\n`);
    await generateBucket({ out: join(dir, 'bucket'), webdir: 'webdir', count: PAGES, seed: 1 });
    const script = join(dir, 'random-pages.lua');
    await writeRandomPagesScript(script, '/bucket/webdir/', PAGES);

    const zonelabPort = 18_471;
    const nginxPort = 18_472;
    const minimalPort = 18_473;
    const zonelabWorkersPort = 18_474;
    const nginxWorkersPort = 18_475;
    const minimalHeadersPort = 18_476;
    const zonelab = startProcess(process.execPath, [
      CLI, 'serve', '--bucket', join(dir, 'bucket'), '--host', '127.0.0.1', '--port', String(zonelabPort), '--zone', 'bench', '--instance', 'bench',
    ]);
    children.push(zonelab);
    const nginx = await startNginx(dir, dir, nginxPort);
    children.push(nginx);
    const minimal = startProcess(process.execPath, [MINIMAL_SERVER, dir, String(minimalPort)]);
    children.push(minimal);
    const zonelabWorkers = startProcess(process.execPath, [
      CLI, 'serve', '--bucket', join(dir, 'bucket'), '--host', '127.0.0.1', '--port', String(zonelabWorkersPort), '--zone', 'bench', '--instance', 'bench-workers', '--workers', '2',
    ]);
    children.push(zonelabWorkers);
    children.push(await startNginx(join(dir, 'nginx-2'), dir, nginxWorkersPort, '127.0.0.1', 2));
    children.push(startProcess(process.execPath, [MINIMAL_SERVER, dir, String(minimalHeadersPort), '--zonelab-headers']));
    await Promise.all([zonelabPort, nginxPort, minimalPort, zonelabWorkersPort, nginxWorkersPort, minimalHeadersPort].map((port) => waitForPort('127.0.0.1', port)));

    const servers = [
      { name: 'zonelab serve', url: `http://127.0.0.1:${zonelabPort}` },
      { name: 'nginx (1 worker)', url: `http://127.0.0.1:${nginxPort}` },
      { name: 'minimal node:http', url: `http://127.0.0.1:${minimalPort}` },
      { name: 'zonelab serve --workers 2', url: `http://127.0.0.1:${zonelabWorkersPort}` },
      { name: 'nginx (2 workers)', url: `http://127.0.0.1:${nginxWorkersPort}` },
      { name: "minimal node:http, zonelab's headers", url: `http://127.0.0.1:${minimalHeadersPort}` },
    ];
    const runs = new Map<string, WrkResult[]>(servers.map((s) => [s.name, []]));
    for (const server of servers) {
      process.stderr.write(`warming up ${server.name} for ${warmup} s…\n`);
      await runWrk({ url: server.url, script, seconds: warmup, connections, threads: 1 });
    }
    // Interleaved, so drift in the machine's load affects both alike.
    for (let round = 1; round <= repeat; round++) {
      for (const server of servers) {
        process.stderr.write(`round ${round}/${repeat}: ${server.name}, ${seconds} s…\n`);
        runs.get(server.name)!.push(await runWrk({ url: server.url, script, seconds, connections, threads: 1 }));
      }
    }

    const summary = servers.map((server) => {
      const results = runs.get(server.name)!;
      return {
        name: server.name,
        requestsPerSec: median(results.map((r) => r.requestsPerSec)),
        p99Ms: median(results.map((r) => r.p99Ms)),
        errors: results.reduce((sum, r) => sum + r.errors, 0),
      };
    });
    type Figures = (typeof summary)[0];
    const [ours, nginxFigures, minimalFigures, oursWorkers, nginxWorkers, minimalHeaders] = summary as [Figures, Figures, Figures, Figures, Figures, Figures];
    const ratio = ours.requestsPerSec / minimalFigures.requestsPerSec;
    const ratioToNginx = ours.requestsPerSec / nginxFigures.requestsPerSec;
    const headersAlone = (minimalHeaders.requestsPerSec / minimalFigures.requestsPerSec).toFixed(2);
    const pass = ratio >= TARGET_RATIO && ours.errors === 0;

    console.log(`\nserver benchmark: ${PAGES} random pages, wrk -t1 -c${connections}, ${seconds} s x ${repeat} (median), ${cpus().length} cores`);
    console.log('| server | req/s | p99 latency | errors |');
    console.log('|---|---:|---:|---:|');
    for (const row of summary) {
      console.log(`| ${row.name} | ${Math.round(row.requestsPerSec)} | ${row.p99Ms.toFixed(2)} ms | ${row.errors} |`);
    }
    console.log(`\nratio zonelab/minimal node:http: ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}): ${pass ? 'PASS' : 'FAIL'}`);
    console.log(`ratio zonelab/nginx: ${ratioToNginx.toFixed(2)} (minimal node:http/nginx: ${(minimalFigures.requestsPerSec / nginxFigures.requestsPerSec).toFixed(2)})`);
    console.log(`zonelab/minimal node:http with zonelab's headers: ${(ours.requestsPerSec / minimalHeaders.requestsPerSec).toFixed(2)} (the headers alone: ${headersAlone} of the minimal server)`);
    console.log(`2 workers: zonelab/nginx ${(oursWorkers.requestsPerSec / nginxWorkers.requestsPerSec).toFixed(2)}; zonelab 2 workers/1 process ${(oursWorkers.requestsPerSec / ours.requestsPerSec).toFixed(2)}`);

    const rows = [
      ratioRow({
        benchmark: 'server',
        measure: `zonelab serve req/s, ${PAGES} random pages, wrk -c${connections}`,
        unit: 'req/s',
        zonelab: ours.requestsPerSec,
        baselineName: 'minimal node:http (pages in memory)',
        baseline: minimalFigures.requestsPerSec,
        target: `≥ ${TARGET_RATIO}`,
        pass,
      }),
      ratioRow({ benchmark: 'server', measure: 'zonelab serve req/s, same load', unit: 'req/s', zonelab: ours.requestsPerSec, baselineName: "minimal node:http sending zonelab's headers", baseline: minimalHeaders.requestsPerSec, target: '—', pass: null, note: `the headers alone: ${headersAlone} of the minimal server` }),
      ratioRow({ benchmark: 'server', measure: 'zonelab serve req/s, same load', unit: 'req/s', zonelab: ours.requestsPerSec, baselineName: 'nginx (1 worker)', baseline: nginxFigures.requestsPerSec, target: '—', pass: null }),
      ratioRow({ benchmark: 'server', measure: 'zonelab serve --workers 2 req/s, same load', unit: 'req/s', zonelab: oursWorkers.requestsPerSec, baselineName: 'nginx (2 workers)', baseline: nginxWorkers.requestsPerSec, target: '—', pass: null, note: `errors ${oursWorkers.errors}` }),
      ratioRow({ benchmark: 'server', measure: 'zonelab serve --workers 2 req/s, same load', unit: 'req/s', zonelab: oursWorkers.requestsPerSec, baselineName: 'zonelab serve (1 process)', baseline: ours.requestsPerSec, target: '—', pass: null }),
    ];
    const file = await writeResults('server', { seconds, repeat, connections, summary, ratio, ratioToNginx, target: TARGET_RATIO, pass, runs: Object.fromEntries(runs) }, rows);
    console.log(`results: ${file}`);
    process.exitCode = pass ? 0 : 1;
  } finally {
    await Promise.all(children.map((child) => stopProcess(child)));
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:server failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
