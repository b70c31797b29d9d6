import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ZonelabError } from '../errors.js';
import { generatePages } from './pages.js';

export interface GenerateBucketOptions {
  /** The bucket folder; pages go to `<out>/<webdir>/`. */
  out: string;
  webdir: string;
  count: number;
  seed: number;
  maxLinks?: number;
  /** Replace a non-empty `out` (only once the new bucket is complete). */
  force?: boolean;
  /** Leave a non-empty `out` as it is and report `skipped` instead of failing. */
  ifMissing?: boolean;
  /** Called now and then with the pages written so far. */
  onProgress?: (written: number, total: number) => void;
  /** Aborting stops the generation and removes what was written; `out` is left as it was. */
  signal?: AbortSignal;
}

export interface GeneratedBucket {
  out: string;
  webdir: string;
  pages: number;
  bytes: number;
  /** True when `ifMissing` found an existing bucket and wrote nothing. */
  skipped: boolean;
}

const PARALLEL_WRITES = 64;

async function isNonEmptyFolder(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length > 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new ZonelabError('E_NOT_A_FOLDER', `${path} exists and is not a folder`);
    }
    throw error;
  }
}

/**
 * Writes the pages into a sibling folder first and swaps it into place at the end, so an
 * interrupted run, or a failure half-way, never leaves a half-written bucket or destroys
 * the previous one.
 */
export async function generateBucket(options: GenerateBucketOptions): Promise<GeneratedBucket> {
  if (!Number.isInteger(options.count) || options.count < 1) {
    throw new ZonelabError('E_BAD_ARGUMENT', `page count must be a positive integer, got ${options.count}`);
  }
  if (options.webdir !== 'none' && (options.webdir === '' || /[/\\]|^\.\.?$/.test(options.webdir))) {
    throw new ZonelabError('E_BAD_ARGUMENT', `webdir must be one folder name (or "none"), got "${options.webdir}"`);
  }
  const out = resolve(options.out);
  if (options.ifMissing && !options.force && (await isNonEmptyFolder(out))) {
    return { out, webdir: options.webdir, pages: 0, bytes: 0, skipped: true };
  }
  if (!options.force && (await isNonEmptyFolder(out))) {
    throw new ZonelabError('E_NOT_EMPTY', `${options.out} is not empty; pass --force to replace it`);
  }
  await mkdir(dirname(out), { recursive: true });
  const staging = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  const pagesDir = options.webdir === 'none' ? staging : join(staging, options.webdir);
  await rm(staging, { recursive: true, force: true });
  await mkdir(pagesDir, { recursive: true });

  let written = 0;
  let bytes = 0;
  try {
    const pages = generatePages(options);
    const writer = async () => {
      for (let next = pages.next(); !next.done; next = pages.next()) {
        options.signal?.throwIfAborted();
        await writeFile(join(pagesDir, next.value.name), next.value.html);
        bytes += Buffer.byteLength(next.value.html);
        written++;
        if (written % 250 === 0) options.onProgress?.(written, options.count);
      }
    };
    // Every writer must have finished before the staging folder is removed: with
    // Promise.all the first abort would reject while the other writers' files are still
    // being created, and removing the folder would race them (ENOTEMPTY, or files left).
    const outcomes = await Promise.allSettled(Array.from({ length: PARALLEL_WRITES }, writer));
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure) throw failure.reason;
    options.signal?.throwIfAborted();
    const previous = (await isNonEmptyFolder(out)) ? `${staging}-previous` : null;
    if (previous) await rename(out, previous);
    else await rm(out, { recursive: true, force: true });
    await rename(staging, out);
    if (previous) await rm(previous, { recursive: true, force: true });
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  options.onProgress?.(written, options.count);
  return { out, webdir: options.webdir, pages: written, bytes, skipped: false };
}
