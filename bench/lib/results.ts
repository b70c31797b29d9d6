import { appendFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One line of the benchmark table: zonelab's figure next to a baseline measured in the same run. */
export interface BenchRow {
  benchmark: string;
  measure: string;
  unit: string;
  zonelab: number | null;
  /** What the figure is compared with (nginx, wrk, the spec's bound …). */
  baselineName: string;
  baseline: number | null;
  /** zonelab / baseline. */
  ratio: number | null;
  target: string;
  /** null: for information, no target. */
  pass: boolean | null;
  note?: string;
}

export function ratioRow(row: Omit<BenchRow, 'ratio'>): BenchRow {
  const ratio = row.zonelab !== null && row.baseline ? row.zonelab / row.baseline : null;
  return { ...row, ratio };
}

/** `npm run bench` collects every benchmark's rows through this file. */
function appendRows(rows: BenchRow[]): void {
  const file = process.env.ZONELAB_BENCH_ROWS;
  if (file) appendFileSync(file, rows.map((row) => `${JSON.stringify(row)}\n`).join(''));
}

/** Writes a benchmark's figures to `bench/results/<name>-<time>.json` with the machine's facts; returns the path. */
export async function writeResults(name: string, figures: Record<string, unknown>, rows: BenchRow[] = []): Promise<string> {
  const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify({ benchmark: name, cores: cpus().length, node: process.version, rows, ...figures }, null, 2)}\n`);
  appendRows(rows);
  return file;
}

/** A benchmark whose baseline tools are missing says so (in the table too) and exits 2. */
export function skipBenchmark(name: string, missing: string[]): never {
  const reason = `${missing.join(', ')} not installed (apt-get install -y ${missing.join(' ')})`;
  console.error(`bench:${name} skipped: ${reason}`);
  appendRows([{ benchmark: name, measure: 'skipped', unit: '', zonelab: null, baselineName: '', baseline: null, ratio: null, target: '', pass: null, note: reason }]);
  process.exit(2);
}
