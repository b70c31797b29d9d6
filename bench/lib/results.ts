import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Writes a benchmark's figures to `bench/results/<name>-<time>.json` with the machine's facts; returns the path. */
export async function writeResults(name: string, figures: Record<string, unknown>): Promise<string> {
  const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify({ benchmark: name, cores: cpus().length, node: process.version, ...figures }, null, 2)}\n`);
  return file;
}
