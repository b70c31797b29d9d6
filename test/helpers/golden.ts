import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The golden folder beside a test's source (not in dist/): `goldenDir('gcp')` is test/gcp/golden. */
export function goldenDir(folder: string): string {
  return fileURLToPath(new URL(`../../../test/${folder}/golden/`, import.meta.url));
}

/**
 * Asserts that `actual` equals the golden file `dir/name`. With UPDATE_GOLDEN=1 (that value
 * only) the file is rewritten first, and the diff is for the person to read before committing.
 */
export async function matchesGolden(dir: string, name: string, actual: string): Promise<void> {
  if (process.env.UPDATE_GOLDEN === '1') await writeFile(join(dir, name), actual);
  assert.equal(actual, await readFile(join(dir, name), 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`);
}
