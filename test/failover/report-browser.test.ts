import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM_FLAGS, computeFailoverMetrics, findChromium, writeReport, writeReportPdf } from '../../src/failover/index.js';
import { events, records, setup } from './fixture-run.js';

const executable = findChromium();
const run = promisify(execFile);

interface Picture {
  width: number;
  height: number;
  pixels: Buffer;
}

/** The PDF's pages as grey pictures (pdftoppm, 40 dpi), read from their PGM files. */
async function pagesAsPictures(pdf: string, prefix: string): Promise<Picture[]> {
  await run('pdftoppm', ['-r', '40', '-gray', pdf, prefix]);
  const folder = dirname(prefix);
  const files = (await readdir(folder)).filter((name) => name.startsWith(basename(prefix)) && name.endsWith('.pgm')).sort();
  return Promise.all(
    files.map(async (name) => {
      const data = await readFile(join(folder, name));
      // P5 <width> <height> <max>\n, then one byte per pixel.
      const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(data.subarray(0, 40).toString('latin1'))!;
      return { width: Number(header[1]), height: Number(header[2]), pixels: data.subarray(header[0].length) };
    }),
  );
}

/** Pixels darker than light grey between columns `from` and `to`. */
function darkPixels(picture: Picture, from: number, to: number): number {
  let dark = 0;
  for (let y = 0; y < picture.height; y++) {
    for (let x = from; x < to; x++) if (picture.pixels[y * picture.width + x]! < 200) dark++;
  }
  return dark;
}
const skip = executable ? false : 'Chromium is not installed (apt-get install -y chromium)';
// Screenshots the tests take, for people to look at (not compared).
const SCREENSHOTS = fileURLToPath(new URL('../../../test-output/', import.meta.url));

describe('report.html in a real Chromium (every outside request blocked)', { skip }, () => {
  let dir: string;
  let browser: Browser;

  before(async () => {
    process.env.TZ = 'UTC';
    dir = await mkdtemp(join(tmpdir(), 'zonelab-report-browser-'));
    const metrics = computeFailoverMetrics(records, events, { zone: setup.faultZone, instances: setup.faultInstances, holdMs: setup.holdMs });
    await writeReport(dir, setup, records, events, metrics);
    browser = await chromium.launch({ executablePath: executable!, args: CHROMIUM_FLAGS, headless: true });
  });
  after(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('renders with no request attempted beyond the file itself and no console error; a screenshot is written', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const attempted: string[] = [];
    const problems: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      attempted.push(url);
      return route.abort();
    });
    page.on('requestfailed', (request) => attempted.push(`failed: ${request.url()}`));
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(pathToFileURL(join(dir, 'report.html')).href, { waitUntil: 'load' });
    assert.deepEqual(attempted, []);
    assert.deepEqual(problems, []);
    assert.equal(await page.title(), 'Failover: kill on us-east1-c');
    assert.ok(await page.locator('figure.timeline svg').isVisible(), 'the timeline is drawn');
    const box = await page.locator('figure.timeline svg').boundingBox();
    assert.ok(box && box.width > 600 && box.height > 200, `timeline ${box?.width}×${box?.height}`);
    assert.match((await page.locator('h2').first().textContent()) ?? '', /Answers/);
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'report.png'), fullPage: true });
    await page.close();
  });

  // The widths of an A4 and a Letter page inside the PDF's 10 mm side margins, in CSS px.
  const PAPERS = [
    { format: 'A4', widthMm: 210, contentPx: Math.floor(((210 - 20) / 25.4) * 96) },
    { format: 'Letter', widthMm: 215.9, contentPx: Math.floor(((215.9 - 20) / 25.4) * 96) },
  ] as const;

  it('prints on A4 and Letter with nothing cut: no element wider than the page, and the margins of every page blank', async (t) => {
    // A long command line and a long balancer summary, as real runs have.
    const wide = await mkdtemp(join(tmpdir(), 'zonelab-report-wide-'));
    try {
      const long = { ...setup, command: `zonelab failover --profile gcp-default --fault kill --fault-zone us-east1-c --rate 100 --warmup 10s --hold 10s --max-wait 120s --listen 127.0.0.1:18080 --port 18080 --out-dir ${'/very/long/reports/folder'.repeat(3)}` };
      const metrics = computeFailoverMetrics(records, events, { zone: setup.faultZone, instances: setup.faultInstances, holdMs: setup.holdMs });
      await writeReport(wide, long, records, events, metrics);
      for (const paper of PAPERS) {
        // What print lays out: the print styles at the width of the paper's content.
        const page = await browser.newPage({ viewport: { width: paper.contentPx, height: 1000 } });
        await page.emulateMedia({ media: 'print' });
        await page.goto(pathToFileURL(join(wide, 'report.html')).href, { waitUntil: 'load' });
        // (Run in the page: a string, as this project's types have no DOM.)
        const overflowing = (await page.evaluate(`[...document.querySelectorAll('main *')]
          .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 0.5 || element.scrollWidth > element.clientWidth + 1)
          .filter((element) => !(element instanceof SVGElement) || element.tagName === 'svg')
          .map((element) => element.tagName.toLowerCase() + ': ' + (element.textContent ?? '').slice(0, 60))`)) as string[];
        await page.close();
        assert.deepEqual(overflowing, [], `${paper.format}: wider than the page`);

        const pdf = await writeReportPdf(wide, executable, paper.format);
        const pages = await pagesAsPictures(pdf, join(wide, paper.format));
        assert.ok(pages.length >= 2, `${paper.format}: ${pages.length} pages`);
        for (const [index, picture] of pages.entries()) {
          // 8 of the 10 mm at each side: nothing printed there.
          const strip = Math.floor((picture.width * 8) / paper.widthMm);
          assert.equal(darkPixels(picture, 0, strip), 0, `${paper.format} page ${index + 1}: ink in the left margin`);
          assert.equal(darkPixels(picture, picture.width - strip, picture.width), 0, `${paper.format} page ${index + 1}: ink in the right margin`);
          assert.ok(darkPixels(picture, strip, picture.width - strip) > 0, `${paper.format} page ${index + 1} is not blank`);
        }
        // The pages as pictures for people to look at (not compared).
        await mkdir(SCREENSHOTS, { recursive: true });
        await run('pdftoppm', ['-r', '50', '-png', pdf, join(SCREENSHOTS, `report-pdf-${paper.format.toLowerCase()}`)]);
        t.diagnostic(`${paper.format}: ${pages.length} pages, nothing past the margins (pictures: ${join(SCREENSHOTS, `report-pdf-${paper.format.toLowerCase()}-*.png`)})`);
      }
    } finally {
      await rm(wide, { recursive: true, force: true });
    }
  });

  it('zonelab report --pdf prints it to report.pdf with the local Chromium', async () => {
    const pdf = await writeReportPdf(dir, executable);
    assert.equal(pdf, join(dir, 'report.pdf'));
    assert.ok((await stat(pdf)).size > 20_000);
    assert.equal((await readFile(pdf)).subarray(0, 5).toString(), '%PDF-');
  });
});

describe('report --pdf without Chromium', () => {
  it('says how to install it, in one line', async () => {
    await assert.rejects(writeReportPdf(tmpdir(), null), /writing a PDF needs Chromium: install it with "apt-get install -y chromium"/);
  });
});
