import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateBucket } from '../../src/content/index.js';

export interface TempBucket {
  /** The bucket folder; its basename is `bucket`. */
  root: string;
  /** The folder holding the bucket folder, for files that must lie outside it. */
  parent: string;
  remove(): Promise<void>;
}

/** A generated bucket `<tmp>/bucket/webdir/0.html …` that the caller removes. */
export async function makeTempBucket(count = 20): Promise<TempBucket> {
  const parent = await mkdtemp(join(tmpdir(), 'zonelab-test-'));
  const root = join(parent, 'bucket');
  await generateBucket({ out: root, webdir: 'webdir', count, seed: 7 });
  return { root, parent, remove: () => rm(parent, { recursive: true, force: true }) };
}
