import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM_FLAGS, computeFailoverMetrics, findChromium, writeReport, writeReportPdf } from '../../src/failover/index.js';
import { events, records, setup } from './fixture-run.js';

const executable = findChromium();
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
