import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateBucket, generatePages } from '../../src/content/index.js';
import { isZonelabError } from '../../src/errors.js';

describe('page generation', () => {
  it('gives byte-identical pages for a seed and different pages for another seed', () => {
    const a = [...generatePages({ count: 50, seed: 3 })];
    const b = [...generatePages({ count: 50, seed: 3 })];
    const c = [...generatePages({ count: 50, seed: 4 })];
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('writes 0…maxLinks links of the assignment form, each to a page of the set', () => {
    const pages = [...generatePages({ count: 300, seed: 1, maxLinks: 250 })];
    assert.deepEqual(
      pages.slice(0, 3).map((p) => p.name),
      ['0.html', '1.html', '2.html'],
    );
    const counts = pages.map((page) => {
      const links = [...page.html.matchAll(/<a HREF="(\d+)\.html"> This is a link <\/a>/g)];
      for (const link of links) assert.ok(Number(link[1]) < 300);
      assert.match(page.html, /^<!DOCTYPE html>\n<html>/);
      return links.length;
    });
    assert.ok(Math.max(...counts) <= 250);
    assert.ok(Math.min(...counts) >= 0);
    // Uniform 0…250 over 300 pages: a mean near 125 (far outside this range is a bug).
    const mean = counts.reduce((sum, n) => sum + n, 0) / counts.length;
    assert.ok(mean > 100 && mean < 150, `mean ${mean}`);
  });
});

describe('generateBucket (real files)', () => {
  let parent: string;
  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-gen-'));
  });
  after(() => rm(parent, { recursive: true, force: true }));

  it('writes the pages into <out>/<webdir> and reports progress', async () => {
    const out = join(parent, 'bucket');
    const progress: number[] = [];
    const result = await generateBucket({ out, webdir: 'webdir', count: 600, seed: 1, onProgress: (written) => progress.push(written) });
    assert.equal(result.pages, 600);
    assert.equal((await readdir(join(out, 'webdir'))).length, 600);
    assert.equal(progress.at(-1), 600);
    assert.ok(progress.length >= 2);
    const expected = [...generatePages({ count: 600, seed: 1 })][42]!;
    assert.equal(await readFile(join(out, 'webdir', '42.html'), 'utf8'), expected.html);
  });

  it('refuses a non-empty folder without force and leaves it untouched', async () => {
    const out = join(parent, 'full');
    await mkdir(out);
    await writeFile(join(out, 'keep.txt'), 'mine');
    await assert.rejects(generateBucket({ out, webdir: 'webdir', count: 5, seed: 1 }), (error) => isZonelabError(error, 'E_NOT_EMPTY'));
    assert.deepEqual(await readdir(out), ['keep.txt']);
  });

  it('replaces a non-empty folder with force, leaving no staging folder behind', async () => {
    const out = join(parent, 'replace');
    await mkdir(out);
    await writeFile(join(out, 'old.txt'), 'old');
    await generateBucket({ out, webdir: 'none', count: 5, seed: 1, force: true });
    assert.deepEqual((await readdir(out)).sort(), ['0.html', '1.html', '2.html', '3.html', '4.html']);
    assert.ok(!(await readdir(parent)).some((name) => name.includes('partial')));
  });

  it('leaves the previous bucket and no staging folder when aborted', async () => {
    const out = join(parent, 'aborted');
    await mkdir(out);
    await writeFile(join(out, 'old.txt'), 'old');
    const abort = new AbortController();
    const run = generateBucket({
      out,
      webdir: 'webdir',
      count: 5000,
      seed: 1,
      force: true,
      signal: abort.signal,
      onProgress: () => abort.abort(new Error('stop')),
    });
    await assert.rejects(run, /stop/);
    assert.deepEqual(await readdir(out), ['old.txt']);
    assert.ok(!(await readdir(parent)).some((name) => name.includes('partial')));
  });
});
