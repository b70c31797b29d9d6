import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createRequestModel, runLoad } from '../../src/client/index.js';
import { CHROMIUM_FLAGS, findChromium } from '../../src/failover/index.js';
import { freePort } from '../helpers/free-port.js';
import { skipWithoutHaproxy, zonelab, endLabsUnder } from '../helpers/lab-process.js';
import { CLI_PATH } from '../helpers/paths.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

const executable = findChromium();
const skip = skipWithoutHaproxy || (executable ? false : 'Chromium is not installed (apt-get install -y chromium)');
// Screenshots the tests take, for people to look at (not compared).
const SCREENSHOTS = fileURLToPath(new URL('../../../test-output/', import.meta.url));

interface Watched {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], cwd?: string): Watched {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return { child, output: () => output, exited: new Promise((resolve) => child.on('exit', resolve)) };
}

async function pageUrl(watched: Watched): Promise<string> {
  await waitFor(() => /live page: http:\/\/\S+/.test(watched.output()), 20_000, `the live page's address (${watched.output()})`);
  return /live page: (http:\/\/\S+)/.exec(watched.output())![1]!;
}

/** A page whose every request to anywhere but the page's own server is refused and noted, as is every console error. */
async function openPage(browser: Browser, url: string): Promise<{ page: Page; outside: string[]; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  const outside: string[] = [];
  const problems: string[] = [];
  const origin = new URL(url).origin;
  await page.route('**/*', (route) => {
    const target = route.request().url();
    if (target.startsWith(origin) || target.startsWith('data:') || target === 'about:srcdoc') return route.continue();
    outside.push(target);
    return route.abort();
  });
  page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
  return { page, outside, problems };
}

const rowOf = (page: Page, zone: string) => page.locator(`#backends tr[data-zone="${zone}"]`);

describe('the live page in a real Chromium (real lab, real HAProxy)', { skip }, () => {
  let parent: string;
  let bucket: TempBucket;
  let browser: Browser;
  const children: Watched[] = [];
  const labDirs: string[] = [];

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-live-'));
    bucket = await makeTempBucket(50);
    browser = await chromium.launch({ executablePath: executable!, args: CHROMIUM_FLAGS, headless: true });
    await mkdir(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    // A CLI still running is asked to stop as a person would (Ctrl-C: it takes its lab
    // down), and killed only if it does not; then every lab under parent goes down, a
    // failover run's own included, before its folder is deleted.
    for (const watched of children) {
      if (watched.child.exitCode !== null || watched.child.signalCode !== null) continue;
      watched.child.kill('SIGINT');
      const timer = setTimeout(() => watched.child.kill('SIGKILL'), 15_000);
      await watched.exited;
      clearTimeout(timer);
    }
    try {
      await endLabsUnder(parent, labDirs);
    } finally {
      await bucket?.remove();
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('lab up --web: both zones serving; lab stop shows the zone down with its marks; the start button brings it back', async (t) => {
    const dir = join(parent, 'lab');
    labDirs.push(dir);
    const lbPort = await freePort();
    const backendPort = await freePort('127.0.1.1');
    const lab = run(['lab', 'up', '--web', '--dir', dir, '--listen', `127.0.0.1:${lbPort}`, '--port', String(backendPort), '--bucket', bucket.root, '--profile', 'fast']);
    children.push(lab);
    const url = await pageUrl(lab);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=/, 'loopback by default');
    await waitFor(() => lab.output().includes('watching backend states'), 20_000, 'the lab to be up');

    // Traffic from a client that is not zonelab's experiment: the page counts it from HAProxy.
    const stopLoad = new AbortController();
    const load = runLoad({
      origin: `http://127.0.0.1:${lbPort}`,
      next: createRequestModel({ bucket: 'bucket', webdir: 'webdir', index: 50, seed: 5 }),
      mode: { kind: 'open', rate: 40 },
      keepalive: false,
      connections: 4,
      timeoutMs: 2000,
      retries: 0,
      follow: false,
      signal: stopLoad.signal,
      onResult: () => {},
    });
    try {
      const { page, outside, problems } = await openPage(browser, url);
      await waitFor(async () => (await page.locator('#backends tbody tr').count()) === 2, 5000, 'both backends listed');
      for (const zone of ['us-east1-b', 'us-east1-c']) {
        assert.equal(await rowOf(page, zone).getAttribute('data-state'), 'serving');
        assert.match((await rowOf(page, zone).textContent()) ?? '', /serving.*running/);
      }
      assert.match((await page.locator('.command').first().textContent()) ?? '', new RegExp(`zonelab lab --dir ${dir} fault us-east1-b kill`));
      const box = await page.locator('#chart canvas').boundingBox();
      assert.ok(box && box.width > 600 && box.height > 250, `chart ${box?.width}×${box?.height}`);

      const stopped = await zonelab('lab', 'stop', 'us-east1-b', '--dir', dir);
      assert.equal(stopped.code, 0, stopped.stderr);
      await waitFor(async () => (await rowOf(page, 'us-east1-b').getAttribute('data-state')) === 'down', 10_000, 'zone b shown down');
      assert.match((await rowOf(page, 'us-east1-b').textContent()) ?? '', /down.*stopped/);
      const marks = (await page.locator('#marks').textContent()) ?? '';
      assert.match(marks, /us-east1-b-vm1 stopped/);
      assert.match(marks, /LB DOWN us-east1-b-vm1/);
      await page.waitForSelector('body[data-drawn-marks="2"]', { timeout: 5000 });
      await page.screenshot({ path: join(SCREENSHOTS, 'live-lab-down.png'), fullPage: true });

      await rowOf(page, 'us-east1-b').getByRole('button', { name: 'Start zone' }).click();
      await waitFor(async () => (await rowOf(page, 'us-east1-b').getAttribute('data-state')) === 'serving', 15_000, 'zone b serving again');
      assert.match((await page.locator('#action-result').textContent()) ?? '', /us-east1-b-vm1 healed/);
      assert.match((await page.locator('#marks').textContent()) ?? '', /us-east1-b-vm1 running/);
      assert.match(lab.output(), /us-east1-b-vm1 \(us-east1-b\) stopped/, 'the terminal said so too');
      // One mark per action: the stop is one "stopped", and the start adds no "stopped" of its own.
      await waitFor(async () => /LB UP us-east1-b-vm1/.test((await page.locator('#marks').textContent()) ?? ''), 10_000, 'the LB UP mark');
      const items = await page.locator('#marks li').allTextContents();
      const labels = items.map((item) => item.replace(/^\d+\.\d s\s+/, '')).reverse();
      assert.equal(labels.length, 4, labels.join(' | '));
      assert.match(labels[0]!, /^us-east1-b-vm1 stopped( \(kill\))?$/);
      assert.deepEqual(labels.slice(1), ['LB DOWN us-east1-b-vm1', 'us-east1-b-vm1 running', 'LB UP us-east1-b-vm1']);
      // Bars for both zones again, from HAProxy's counters of the outside client.
      const since = () => lab.output().slice(lab.output().indexOf('us-east1-b-vm1 (us-east1-b) running'));
      await waitFor(() => /the load balancer sent in the last second: us-east1-b [1-9]\d* /.test(since()), 10_000, 'zone b served again');
      await page.screenshot({ path: join(SCREENSHOTS, 'live-lab.png'), fullPage: true });
      assert.deepEqual(outside, [], 'no request to any other address');
      assert.deepEqual(problems, [], 'no console error');
      t.diagnostic(`screenshots: ${join(SCREENSHOTS, 'live-lab-down.png')}, ${join(SCREENSHOTS, 'live-lab.png')}`);
      await page.close();
    } finally {
      stopLoad.abort();
      await load;
    }
    lab.child.kill('SIGINT');
    assert.equal(await lab.exited, 0);
    assert.match(lab.output(), /lab stopped/);
  });

  it('failover --web: the page follows the run and shows the final report when it ends', async () => {
    const out = join(parent, 'reports');
    const listenPort = await freePort();
    const backendPort = await freePort('127.0.1.1');
    const failover = run([
      'failover', '--web', '--profile', 'fast', '--warmup', '2s', '--hold', '2s', '--rate', '50',
      '--listen', `127.0.0.1:${listenPort}`, '--port', String(backendPort), '--bucket', bucket.root, '--out-dir', out,
    ]);
    children.push(failover);
    const url = await pageUrl(failover);
    const { page, outside, problems } = await openPage(browser, url);
    await waitFor(async () => /outage|return|done/.test((await page.locator('#phase').textContent()) ?? ''), 30_000, 'the run to reach its outage').catch(async (error: Error) => {
      throw new Error(`${error.message}: the page says "${await page.locator('#phase').textContent()}", console: ${JSON.stringify(problems)}, run: ${failover.output().slice(-400)}`);
    });
    await page.locator('#done').waitFor({ state: 'visible', timeout: 60_000 });
    assert.match((await page.locator('#done-lines').textContent()) ?? '', /time to reroute: \d+\.\d\d s/);
    const report = page.frameLocator('#report');
    await report.locator('h2', { hasText: 'Answers' }).waitFor({ timeout: 10_000 });
    const marks = (await page.locator('#marks').textContent()) ?? '';
    for (const mark of ['fault kill us-east1-b', 'LB DOWN us-east1-b-vm1', 'restart us-east1-b', 'ready us-east1-b', 'LB UP us-east1-b-vm1']) assert.ok(marks.includes(mark), `${mark} in ${marks}`);
    // At a steady 50 requests/s, counted when each was due, no bar reaches past 1.5 × the rate
    // (by when answers arrived, the start-up and the reroute made spikes).
    const axisMax = Number(await page.locator('body').getAttribute('data-rate-axis-max'));
    assert.ok(axisMax > 0 && axisMax <= 75, `the axis reaches ${axisMax} requests/s for a 50 requests/s run`);
    // The page's last figures are the report's.
    const [folder] = await readdir(out);
    const summary = JSON.parse(await readFile(join(out, folder!, 'summary.json'), 'utf8')) as { metrics: { zones: { requests: number }[] } };
    const total = summary.metrics.zones.reduce((sum, cell) => sum + cell.requests, 0);
    const measures = (await page.locator('#measures').textContent()) ?? '';
    assert.match(measures, new RegExp(`requests\\s*${total}(?!\\d)`), `the page says ${measures}; the report counts ${total}`);
    await page.screenshot({ path: join(SCREENSHOTS, 'live-failover.png'), fullPage: false });
    // The page goes first, as a person closes the tab: the run waits for attached pages.
    await page.close();
    assert.equal(await failover.exited, 0, failover.output());
    assert.deepEqual(outside, []);
    assert.deepEqual(problems, []);
  });
});
