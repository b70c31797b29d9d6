/**
 * `npm run bench:events`: wrk sends only forbidden requests to one `zonelab serve` with the
 * SQLite bus while `zonelab audit` follows the server's event file; prints the sustained
 * events/s committed, the p99 commit-to-print latency, and whether anything was lost or
 * printed twice. Baseline in the same run: the same server with `--bus log` (no bus, a log
 * line per refusal), which shows what durability costs. Targets: ≥ 5,000 events/s, p99
 * commit→print under 100 ms at saturation and under 250 ms at a moderate rate, nothing lost.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { openSqlite } from '../src/sqlite/index.js';
import { eventFileOf } from '../src/bus/index.js';
import { generateBucket } from '../src/content/index.js';
import { haveCommand, median, startProcess, stopProcess, waitForPort } from './lib/processes.js';
import { runWrk, writeRandomPagesScript } from './lib/wrk.js';

const runCommand = promisify(execFile);
import { ratioRow, skipBenchmark, writeResults } from './lib/results.js';

const TARGET_EVENTS_PER_SEC = 5000;
const TARGET_P99_MS = 250;
const TARGET_SATURATED_P99_MS = 100;
const MODERATE_RATE = 1000;
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
  },
});
const seconds = Number(flags.seconds);
const repeat = Number(flags.repeat);
const connections = Number(flags.connections);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

interface BusRun {
  eventsPerSec: number;
  committed: number;
  answered: number;
  printed: number;
  duplicates: number;
  lost: number;
  p99CommitToPrintMs: number;
}

/** Drives forbidden requests at the server for the run's length; resolves with how many were answered 400. */
type Drive = (url: string) => Promise<number>;

function wrkDrive(script: string, duration = seconds): Drive {
  return async (url) => {
    const result = await runWrk({ url, script, seconds: duration, connections, threads: 1 });
    if (result.socketErrors > 0 || result.non2xx !== result.requests) {
      throw new Error(`expected only 400 answers: ${result.requests} answers, ${result.non2xx} non-2xx, ${result.socketErrors} socket errors`);
    }
    return result.requests;
  };
}

/** zonelab client, open loop at `rate`, every request from Iran (so every one is refused). */
function clientDrive(rate: number): Drive {
  return async (url) => {
    const { port } = new URL(url);
    const { stdout } = await runCommand(
      process.execPath,
      [CLI, 'client', '-d', '127.0.0.1', '-p', port, '-b', 'bucket', '-w', 'webdir', '-i', '100', '--rate', String(rate), '--duration', `${seconds}s`, '--country', 'Iran', '--json'],
      { timeout: (seconds + 60) * 1000, maxBuffer: 16 * 1024 * 1024 },
    );
    const summary = JSON.parse(stdout) as { requests: number; forbidden: number };
    if (summary.forbidden !== summary.requests) throw new Error(`expected only 400 answers: ${summary.forbidden} of ${summary.requests}`);
    return summary.forbidden;
  };
}

async function runWithBus(dir: string, round: number, drive: Drive, port: number): Promise<BusRun> {
  const events = join(dir, `events-${round}`);
  const server = startProcess(process.execPath, [
    CLI, 'serve', '--bucket', join(dir, 'bucket'), '--host', '127.0.0.1', '--port', String(port), '--zone', 'bench', '--instance', 'bench', '--bus', `sqlite:${events}`,
  ]);
  await waitForPort('127.0.0.1', port);
  const audit = startProcess(process.execPath, [CLI, 'audit', '--bus', `sqlite:${events}`, '--json']);
  const printedAt = new Map<string, number>();
  let printed = 0;
  createInterface({ input: audit.stdout! }).on('line', (line) => {
    printed++;
    printedAt.set((JSON.parse(line) as { id: string }).id, Date.now());
  });
  try {
    // The audit process takes a few hundred ms to start: one refusal printed first, so the
    // measured latency is the audit following the server, not the audit starting up.
    const probe = await fetch(`http://127.0.0.1:${port}/bucket/webdir/0.html`, { headers: { 'X-country': 'Iran' } });
    await probe.arrayBuffer();
    if (!(await waitUntil(() => printed >= 1, 30_000))) throw new Error('the audit printed nothing within 30 s');
    const answered = 1 + (await drive(`http://127.0.0.1:${port}`));
    const sqlite = openSqlite(eventFileOf(events, 'bench'), { readonly: true });
    const rows = sqlite.prepare('SELECT id, committed_at FROM events').all() as { id: string; committed_at: number }[];
    const first = rows.reduce((min, row) => Math.min(min, row.committed_at), Number.POSITIVE_INFINITY);
    const last = rows.reduce((max, row) => Math.max(max, row.committed_at), 0);
    sqlite.close();
    await waitUntil(() => printed >= rows.length, 30_000);
    const latencies = rows.filter((row) => printedAt.has(row.id)).map((row) => printedAt.get(row.id)! - row.committed_at);
    return {
      eventsPerSec: rows.length / ((last - first) / 1000),
      committed: rows.length,
      answered,
      printed,
      duplicates: printed - printedAt.size,
      lost: rows.filter((row) => !printedAt.has(row.id)).length,
      p99CommitToPrintMs: percentile(latencies, 99),
    };
  } finally {
    await Promise.all([stopProcess(audit), stopProcess(server)]);
  }
}

async function runWithLogOnly(dir: string, script: string, port: number): Promise<number> {
  const server = startProcess(process.execPath, [
    CLI, 'serve', '--bucket', join(dir, 'bucket'), '--host', '127.0.0.1', '--port', String(port), '--zone', 'bench', '--instance', 'bench', '--bus', 'log',
  ]);
  // The log lines go to a pipe nobody reads past a bounded buffer: drain it.
  server.stdout!.resume();
  try {
    await waitForPort('127.0.0.1', port);
    return (await runWrk({ url: `http://127.0.0.1:${port}`, script, seconds, connections, threads: 1 })).requestsPerSec;
  } finally {
    await stopProcess(server);
  }
}

async function main(): Promise<void> {
  if (!haveCommand('wrk')) {
    skipBenchmark('events', ['wrk']);
  }
  const dir = await mkdtemp(join(tmpdir(), 'zonelab-bench-events-'));
  try {
    await generateBucket({ out: join(dir, 'bucket'), webdir: 'webdir', count: 100, seed: 1 });
    const script = join(dir, 'forbidden.lua');
    await writeRandomPagesScript(script, '/bucket/webdir/', 100, { 'X-country': 'Iran', 'X-client-IP': '5.160.0.1' });

    const busRuns: BusRun[] = [];
    const logRuns: number[] = [];
    // The disk, the page cache and the CPU's clocks settle in a short round that is not counted.
    process.stderr.write('warm-up round (not counted): sqlite bus + audit, 3 s…\n');
    await runWithBus(dir, 0, wrkDrive(script, 3), 18_480);
    for (let round = 1; round <= repeat; round++) {
      process.stderr.write(`round ${round}/${repeat}: sqlite bus + audit, ${seconds} s…\n`);
      busRuns.push(await runWithBus(dir, round, wrkDrive(script), 18_480 + round));
      process.stderr.write(`round ${round}/${repeat}: --bus log (baseline), ${seconds} s…\n`);
      logRuns.push(await runWithLogOnly(dir, script, 18_490 + round));
    }
    // Latency is also measured at a steady rate below saturation, the load a lab sees.
    process.stderr.write(`moderate load: sqlite bus + audit, ${MODERATE_RATE} forbidden requests/s, ${seconds} s…\n`);
    const moderate = await runWithBus(dir, repeat + 1, clientDrive(MODERATE_RATE), 18_499);
    const eventsPerSec = median(busRuns.map((r) => r.eventsPerSec));
    const baseline = median(logRuns);
    const p99 = median(busRuns.map((r) => r.p99CommitToPrintMs));
    const allRuns = [...busRuns, moderate];
    const lost = allRuns.reduce((sum, r) => sum + r.lost + Math.max(0, r.answered - r.committed), 0);
    const duplicates = allRuns.reduce((sum, r) => sum + r.duplicates, 0);
    const pass =
      eventsPerSec >= TARGET_EVENTS_PER_SEC && lost === 0 && duplicates === 0 && moderate.p99CommitToPrintMs < TARGET_P99_MS && p99 < TARGET_SATURATED_P99_MS;

    console.log(`\nevents benchmark: only forbidden requests, wrk -t1 -c${connections}, ${seconds} s x ${repeat} (median), ${cpus().length} cores`);
    console.log('| run | events/s committed | answered | committed | printed | lost | twice | p99 commit→print |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const [i, r] of busRuns.entries()) {
      console.log(`| sqlite #${i + 1} | ${Math.round(r.eventsPerSec)} | ${r.answered} | ${r.committed} | ${r.printed} | ${r.lost} | ${r.duplicates} | ${r.p99CommitToPrintMs.toFixed(1)} ms |`);
    }
    console.log(`| sqlite, ${MODERATE_RATE} req/s (zonelab client --rate) | ${Math.round(moderate.eventsPerSec)} | ${moderate.answered} | ${moderate.committed} | ${moderate.printed} | ${moderate.lost} | ${moderate.duplicates} | ${moderate.p99CommitToPrintMs.toFixed(1)} ms |`);
    console.log(`\nsqlite bus: ${Math.round(eventsPerSec)} events/s (target ≥ ${TARGET_EVENTS_PER_SEC}), p99 commit→print ${p99.toFixed(1)} ms (target < ${TARGET_SATURATED_P99_MS} ms), lost ${lost}, printed twice ${duplicates}: ${pass ? 'PASS' : 'FAIL'}`);
    console.log(`p99 commit→print at moderate load: ${moderate.p99CommitToPrintMs.toFixed(1)} ms (target < ${TARGET_P99_MS} ms): ${moderate.p99CommitToPrintMs < TARGET_P99_MS ? 'PASS' : 'FAIL'}`);
    console.log(`baseline --bus log (no durability): ${Math.round(baseline)} refusals/s; ratio sqlite/log ${(eventsPerSec / baseline).toFixed(2)}`);
    const rows = [
      ratioRow({
        benchmark: 'events',
        measure: 'forbidden requests committed as events (sqlite bus + audit)',
        unit: 'events/s',
        zonelab: eventsPerSec,
        baselineName: '--bus log (no durability)',
        baseline,
        target: `≥ ${TARGET_EVENTS_PER_SEC} events/s`,
        pass: eventsPerSec >= TARGET_EVENTS_PER_SEC,
      }),
      ratioRow({ benchmark: 'events', measure: 'events lost or printed twice', unit: 'events', zonelab: lost + duplicates, baselineName: '', baseline: null, target: '0', pass: lost + duplicates === 0 }),
      ratioRow({
        benchmark: 'events',
        measure: `p99 commit→print at ${MODERATE_RATE} events/s`,
        unit: 'ms',
        zonelab: moderate.p99CommitToPrintMs,
        baselineName: '',
        baseline: null,
        target: `< ${TARGET_P99_MS} ms`,
        pass: moderate.p99CommitToPrintMs < TARGET_P99_MS,
      }),
      ratioRow({
        benchmark: 'events',
        measure: 'p99 commit→print at saturation',
        unit: 'ms',
        zonelab: p99,
        baselineName: '',
        baseline: null,
        target: `< ${TARGET_SATURATED_P99_MS} ms`,
        pass: p99 < TARGET_SATURATED_P99_MS,
      }),
    ];
    const file = await writeResults('events', { connections, seconds, repeat, eventsPerSec, baseline, p99CommitToPrintMs: p99, lost, duplicates, target: TARGET_EVENTS_PER_SEC, targetP99Ms: TARGET_P99_MS, targetSaturatedP99Ms: TARGET_SATURATED_P99_MS, pass, busRuns, moderate, logRuns }, rows);
    console.log(`results: ${file}`);
    process.exitCode = pass ? 0 : 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:events failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
