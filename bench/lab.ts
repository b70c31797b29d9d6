/**
 * `npm run bench:lab`: each load balancer driver (`--lbs`, default every one this machine
 * can run), with the same spec (profile fast, tcp), in front of two `zonelab serve`
 * backends (a real lab) and in front of two nginx backends (one worker each) serving the
 * same pages, in the same run; wrk's req/s through each and the ratio per driver. Target
 * ≥ 0.9: the balancer should be the limit, never our servers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateBucket } from '../src/content/index.js';
import { nftTableOf, startLab } from '../src/lab/index.js';
import { type LbDriverKind, lbDriver, lbKinds, type LoadBalancer, resolveSpec, startLoadBalancer } from '../src/lb/index.js';
import { startNginx } from './lib/nginx.js';
import { haveCommand, median, stopProcess, waitForPort } from './lib/processes.js';
import { ratioRow, skipBenchmark, writeResults } from './lib/results.js';
import { runWrk, type WrkResult, writeRandomPagesScript } from './lib/wrk.js';

const TARGET_RATIO = 0.9;
const PAGES = 10_000;
const CONNECTIONS = 64;

const { values: flags } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, repeat: { type: 'string', default: '3' }, lbs: { type: 'string' } },
});
const seconds = Number(flags.seconds);
const repeat = Number(flags.repeat);

/** The drivers asked for, or every one whose program (and, for passthrough, root) is here. */
function driversToRun(): LbDriverKind[] {
  if (flags.lbs) {
    const asked = flags.lbs.split(',').map((name) => name.trim()) as LbDriverKind[];
    const unknown = asked.filter((name) => !lbKinds().includes(name));
    if (unknown.length > 0) throw new Error(`--lbs: unknown ${unknown.join(', ')} (known: ${lbKinds().join(', ')})`);
    for (const kind of asked) lbDriver(kind).check();
    return asked;
  }
  return lbKinds().filter((kind) => {
    try {
      lbDriver(kind).check();
      return true;
    } catch {
      process.stderr.write(`skipping ${kind}: it cannot run here\n`);
      return false;
    }
  });
}

async function main(): Promise<void> {
  const missing = ['wrk', 'nginx'].filter((command) => !haveCommand(command));
  if (missing.length > 0) {
    skipBenchmark('lab', missing);
  }
  const kinds = driversToRun();
  const dir = await mkdtemp(join(tmpdir(), 'zonelab-bench-lab-'));
  const stoppers: (() => Promise<void>)[] = [];
  try {
    await generateBucket({ out: join(dir, 'bucket'), webdir: 'webdir', count: PAGES, seed: 1 });
    const spec = { ...resolveSpec('fast'), port: 18_520 };
    const nginxPort = 18_522;
    process.stderr.write('starting two nginx backends…\n');
    for (const host of ['127.0.1.1', '127.0.1.2']) {
      const nginx = await startNginx(join(dir, `nginx-${host}`), dir, nginxPort, host);
      stoppers.push(() => stopProcess(nginx));
      await waitForPort(host, nginxPort);
    }
    const script = join(dir, 'random-pages.lua');
    await writeRandomPagesScript(script, '/bucket/webdir/', PAGES);

    const perDriver: { kind: LbDriverKind; rows: { name: string; requestsPerSec: number; p99Ms: number; errors: number }[]; ratio: number; pass: boolean; runs: Record<string, WrkResult[]> }[] = [];
    for (const kind of kinds) {
      const name = kind === 'passthrough' ? 'passthrough (nftables)' : (lbDriver(kind).program()?.name ?? kind);
      process.stderr.write(`starting the lab (${name} + two zonelab servers) and ${name} in front of the two nginx…\n`);
      const lab = await startLab({ zones: ['zone-a', 'zone-b'], instancesPerZone: 1, spec, listenHost: '127.0.0.1', listenPort: 18_521, bucket: join(dir, 'bucket'), dir: join(dir, `lab-${kind}`), lb: kind });
      let front: LoadBalancer | undefined;
      try {
        front = await startLoadBalancer(kind, {
          spec: { ...spec, port: nginxPort },
          backends: [
            { name: 'nginx-a', zone: 'zone-a', host: '127.0.1.1', port: nginxPort },
            { name: 'nginx-b', zone: 'zone-b', host: '127.0.1.2', port: nginxPort },
          ],
          listenHost: '127.0.0.1',
          listenPort: 18_523,
          dir: join(dir, `front-${kind}`),
          nftTable: nftTableOf(join(dir, `front-${kind}`)),
        });
        await untilBothUp(front);
        const targets = [
          { name: `${name} → 2 × zonelab serve`, url: 'http://127.0.0.1:18521' },
          { name: `${name} → 2 × nginx`, url: 'http://127.0.0.1:18523' },
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
          return { name: t.name, requestsPerSec: median(results.map((r) => r.requestsPerSec)), p99Ms: median(results.map((r) => r.p99Ms)), errors: results.reduce((sum, r) => sum + r.errors, 0) };
        });
        const ratio = rows[0]!.requestsPerSec / rows[1]!.requestsPerSec;
        perDriver.push({ kind, rows, ratio, pass: ratio >= TARGET_RATIO && rows.every((row) => row.errors === 0), runs: Object.fromEntries(runs) });
      } finally {
        await front?.close();
        await lab.down();
      }
    }

    console.log(`\nlab benchmark: wrk -t1 -c${CONNECTIONS} through each load balancer (profile fast, tcp), ${PAGES} random pages, ${seconds} s x ${repeat} (median), ${cpus().length} cores`);
    console.log('| behind the load balancer | req/s | p99 latency | errors | ratio zonelab/nginx |');
    console.log('|---|---:|---:|---:|---:|');
    for (const { rows, ratio, pass } of perDriver) {
      console.log(`| ${rows[0]!.name} | ${Math.round(rows[0]!.requestsPerSec)} | ${rows[0]!.p99Ms.toFixed(2)} ms | ${rows[0]!.errors} | ${ratio.toFixed(2)} ${pass ? 'PASS' : 'FAIL'} |`);
      console.log(`| ${rows[1]!.name} | ${Math.round(rows[1]!.requestsPerSec)} | ${rows[1]!.p99Ms.toFixed(2)} ms | ${rows[1]!.errors} | |`);
    }
    const pass = perDriver.every((driver) => driver.pass);
    console.log(`\nratio zonelab/nginx behind each balancer (target ≥ ${TARGET_RATIO}): ${pass ? 'PASS' : 'FAIL'}`);
    const table = perDriver.map(({ kind, rows, pass: driverPass }) =>
      ratioRow({
        benchmark: 'lab',
        measure: `req/s through ${kind} to 2 backends, wrk -c${CONNECTIONS}`,
        unit: 'req/s',
        zonelab: rows[0]!.requestsPerSec,
        baselineName: `2 nginx backends, same ${kind} spec`,
        baseline: rows[1]!.requestsPerSec,
        target: `≥ ${TARGET_RATIO}`,
        pass: driverPass,
      }),
    );
    const file = await writeResults('lab', { seconds, repeat, connections: CONNECTIONS, drivers: perDriver, target: TARGET_RATIO, pass }, table);
    console.log(`results: ${file}`);
    process.exitCode = pass ? 0 : 1;
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

/** Waits until the balancer has both backends in service (a driver with no view: at once). */
async function untilBothUp(balancer: LoadBalancer): Promise<void> {
  for (const deadline = Date.now() + 15_000; ; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const view = await balancer.view().catch(() => []);
    if (view === null || (view.length === 2 && view.every((stat) => stat.up))) return;
    if (Date.now() > deadline) throw new Error(`${balancer.kind} did not put the nginx backends in service within 15 s`);
  }
}

main().catch((error: unknown) => {
  console.error(`bench:lab failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
