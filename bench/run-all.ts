/**
 * `npm run bench`: every benchmark in turn, each in its own process (so one failing or
 * missing its tools does not stop the others), then one table of every figure next to its
 * baseline from the same run, written as JSON under bench/results/ with the machine's
 * facts. Exits non-zero if any figure missed its target or a benchmark was skipped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, writeResults } from './lib/results.js';

const BENCHMARKS = ['server', 'events', 'client', 'lab', 'failover', 'web'];

/** The first line a tool prints about its version, or "not installed". */
function versionOf(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) return 'not installed';
  const version = /(\d+\.\d+(?:\.\d+)?)/.exec(`${result.stdout ?? ''}\n${result.stderr ?? ''}`)?.[1];
  return version ? `${command} ${version}` : `${command} (version unknown)`;
}

function format(value: number | null, unit = ''): string {
  if (value === null) return '—';
  if (Number.isInteger(value)) return `${value}${unit ? ` ${unit}` : ''}`;
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}

const rowsDir = mkdtempSync(join(tmpdir(), 'zonelab-bench-rows-'));
const rowsFile = join(rowsDir, 'rows.ndjson');
const rows: BenchRow[] = [];
try {
  for (const name of BENCHMARKS) {
    const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
    process.stderr.write(`\n=== bench:${name} ===\n`);
    const { status } = spawnSync(process.execPath, [script, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, ZONELAB_BENCH_ROWS: rowsFile } });
    let written: BenchRow[] = [];
    try {
      written = readFileSync(rowsFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as BenchRow);
    } catch {
      // no rows: the benchmark failed before writing any
    }
    rmSync(rowsFile, { force: true });
    if (written.length === 0) {
      written = [{ benchmark: name, measure: 'failed', unit: '', zonelab: null, baselineName: '', baseline: null, ratio: null, target: '', pass: false, note: `exit ${status}: see its output above` }];
    }
    rows.push(...written);
  }
} finally {
  rmSync(rowsDir, { recursive: true, force: true });
}

const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  versions: {
    node: process.version,
    haproxy: versionOf('haproxy', ['-v']),
    nginx: versionOf('nginx', ['-v']),
    wrk: versionOf('wrk', ['-v']),
  },
};

const result = (row: BenchRow) => (row.measure === 'skipped' ? 'SKIPPED' : row.pass === null ? 'info' : row.pass ? 'PASS' : 'FAIL');
console.log(`\nzonelab benchmarks: ${machine.cores} cores (${machine.cpu}), node ${machine.versions.node}, ${machine.versions.haproxy}, ${machine.versions.nginx}, ${machine.versions.wrk}\n`);
console.log('| benchmark | measure | zonelab | baseline (same run) | ratio | target | result |');
console.log('|---|---|---:|---|---:|---|---|');
for (const row of rows) {
  const baseline = row.baseline === null ? row.baselineName || '—' : `${format(row.baseline, row.unit)} (${row.baselineName})`;
  const measure = row.note ? `${row.measure} (${row.note})` : row.measure;
  console.log(`| ${row.benchmark} | ${measure} | ${format(row.zonelab, row.unit)} | ${baseline} | ${row.ratio === null ? '—' : row.ratio.toFixed(2)} | ${row.target || '—'} | ${result(row)} |`);
}
const file = await writeResults('all', { machine }, rows);
console.log(`\nresults: ${file}`);
process.exitCode = rows.every((row) => row.pass !== false && row.measure !== 'skipped') ? 0 : 1;
