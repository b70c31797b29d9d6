import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type FailoverMetrics, findChromium, medianWithInterval, renderMatrixMarkdown, renderTrialsMarkdown, runTrials, summarizeTrials, trialsLines } from '../../src/failover/index.js';
import { PROFILES } from '../../src/lb/index.js';
import { parseFault, type RunSetup } from '../../src/records/index.js';
import { freePort, freeServerPort } from '../helpers/free-port.js';
import { skipWithoutHaproxy, endLabsUnder } from '../helpers/lab-process.js';
import { assertWithin, lagWatcher } from '../helpers/lag.js';
import { CLI_PATH } from '../helpers/paths.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { setup as fixtureSetup } from './fixture-run.js';

const run = promisify(execFile);

function metrics(rerouteMs: number, downMs: number, failed: number): FailoverMetrics {
  return {
    faultAt: 5000, restartAt: 10_000, readyAt: 10_400,
    timeToRerouteMs: rerouteMs, rerouted: true,
    errors: { count: failed, byKind: {} }, recurringFailures: null, errorWindowMs: null, longestGapMs: 40,
    timeToReturnMs: 1800, timeToReturnFromReadyMs: 1400, returned: true,
    lb: { downAfterFaultMs: downMs, upAfterRestartMs: null, upAfterReadyMs: 1450 },
    phases: [], zones: [], interrupted: false, interruptedAt: null, loadBehindMs: null,
  };
}

describe('trials: spread and the window the spec predicts (fixed metrics)', () => {
  const setup: RunSetup = { ...fixtureSetup, where: 'lab', fault: 'kill', spec: PROFILES.fast };

  it('summarises each measure with its spread, and says whether every trial lies in the window', () => {
    const runs = [metrics(1400, 1450, 70), metrics(1100, 1150, 55), metrics(1900, 1950, 95)].map((m) => ({ setup, metrics: m }));
    const summary = summarizeTrials(runs);
    const reroute = summary.measures.find((m) => m.measure === 'reroute')!;
    assert.deepEqual(reroute.values, [1.4, 1.1, 1.9]);
    assert.equal(reroute.stats!.median, 1.4);
    assert.deepEqual([reroute.window!.low, reroute.window!.high], [0.8, 2.2]);
    assert.equal(reroute.allInside, true);
    assert.equal(summary.measures.find((m) => m.measure === 'failed')!.window, null, 'no window for a count');
    const late = summarizeTrials([...runs, { setup, metrics: metrics(2600, 2650, 120) }]);
    assert.equal(late.measures.find((m) => m.measure === 'reroute')!.allInside, false);
    assert.match(medianWithInterval(reroute), /^1\.40 \[1\.10–1\.90\]$/);
    // The line the CLI ends with says what each number is.
    assert.match(
      trialsLines({ dir: 'x', runs, summary }).join('\n'),
      /^time to reroute: median 1\.40 s \(95% interval of the median 1\.10–1\.90 s\), trials from 1\.10 to 1\.90 s; window 0\.80–2\.20 s: every trial inside$/m,
    );
  });

  it('rounds each figure once, from the raw value: a median is shown as the trial it is', () => {
    const runs = [metrics(2204.8, 2250, 1), metrics(2100, 2150, 1), metrics(2300, 2350, 1)].map((m) => ({ dir: 'trial', setup, metrics: m }));
    const summary = summarizeTrials(runs);
    const reroute = summary.measures.find((m) => m.measure === 'reroute')!;
    assert.equal(reroute.stats!.median, 2.2048);
    assert.match(medianWithInterval(reroute), /^2\.20 /);
    const markdown = renderTrialsMarkdown(runs, summary, (dir) => dir);
    assert.match(markdown, /\| time to reroute \| 2\.20 \[/);
    assert.match(markdown, /\| 2\.20 \|/, 'the middle trial shows the same figure');
    assert.match(trialsLines({ dir: 'x', runs, summary }).join('\n'), /time to reroute: median 2\.20 s/);
  });

  it("against Google Cloud a trial outside the model's window is an observation to explain, not a failure", () => {
    const target: RunSetup = { ...fixtureSetup, where: 'target', fault: 'command', spec: PROFILES['gcp-default'], checkSees: 'fails-fast', applyDelaySec: 2, lb: undefined };
    // Reroutes of 6, 7 and 14 s: the window is 4.8–12 s (fails fast, 2 s allowance).
    const runs = [metrics(6000, 0, 300), metrics(7000, 0, 350), metrics(14_000, 0, 700)].map((m) => ({ dir: 'trial', setup: target, metrics: m }));
    const summary = summarizeTrials(runs);
    const reroute = summary.measures.find((m) => m.measure === 'reroute')!;
    assert.deepEqual([reroute.window!.low, reroute.window!.high], [4.8, 12]);
    assert.equal(reroute.modelled, true);
    assert.equal(reroute.outside, 1);
    const markdown = renderTrialsMarkdown(runs, summary, (dir) => dir);
    assert.match(markdown, /\| time to reroute \| .* \| 4\.80–12\.00 \(model\) \| no: 1 outside, to explain \|/);
    assert.doesNotMatch(markdown, /\*\*no\*\*/);
    assert.match(markdown, /A trial outside its window is an observation to explain/);
    assert.match(trialsLines({ dir: 'x', runs, summary }).join('\n'), /time to reroute: .*window 4\.80–12\.00 s \(model\): 1 of 3 outside the model's window: observations to explain, not failures/);
    // In the lab the same miss is a miss.
    const labRuns = [metrics(1400, 1450, 70), metrics(1100, 1150, 55), metrics(2600, 2650, 120)].map((m) => ({ dir: 'trial', setup, metrics: m }));
    const lab = summarizeTrials(labRuns);
    assert.equal(lab.measures.find((m) => m.measure === 'reroute')!.modelled, false);
    assert.match(renderTrialsMarkdown(labRuns, lab, (dir) => dir), /\| time to reroute \| .* \| 0\.80–2\.20 \| \*\*no\*\* \|/);
  });

  it('shows median [95% interval] in the matrix cells of trials', () => {
    const runs = [metrics(1400, 1450, 70), metrics(1100, 1150, 55), metrics(1900, 1950, 95)].map((m) => ({ setup, metrics: m }));
    const summary = summarizeTrials(runs);
    const markdown = renderMatrixMarkdown([{ lb: 'haproxy', profile: 'fast', fault: 'kill', dir: 'fast-kill', result: { dir: 'x', setup, metrics: runs[0]!.metrics, interrupted: false, maxLagMs: 0 }, summary }]);
    assert.match(markdown, /\| haproxy \| fast \| tcp \| kill \| 1\.40 \[1\.10–1\.90\] \| ≤ 2\.2 \| 70 \[55–95\] \|/);
  });

  it('shows a return a few milliseconds before the ready event as 0.00, never -0.00', () => {
    const early = { ...metrics(1400, 1450, 70), timeToReturnFromReadyMs: -4, lb: { downAfterFaultMs: 1450, upAfterRestartMs: null, upAfterReadyMs: -3 } };
    const markdown = renderMatrixMarkdown([{ lb: 'caddy', profile: 'fast', fault: 'stop', dir: 'fast-stop', result: { dir: 'x', setup, metrics: early, interrupted: false, maxLagMs: 0 } }]);
    assert.doesNotMatch(markdown, /-0\.00/);
    assert.match(markdown, /\| 1\.80 \| 0\.00 \| 1\.45 \| 0\.00 \|/);
  });
});

describe('trials in a real lab, and --expect (real HAProxy, real processes)', { skip: skipWithoutHaproxy }, () => {
  let parent: string;
  let bucket: TempBucket;
  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-trials-'));
    bucket = await makeTempBucket(100);
  });
  after(async () => {
    try {
      // Whatever a failed run left running (its lab is under parent) goes down first.
      await endLabsUnder(parent);
    } finally {
      await bucket.remove();
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('5 trials of fast × kill on one lab: every reroute and DOWN inside the window HAProxy\'s schedule predicts', async (t) => {
    const spec = { ...PROFILES.fast, port: await freeServerPort() };
    const lag = lagWatcher();
    const trials = await runTrials({
      watcher: lag.watcher,
      lab: { zones: ['us-east1-b', 'us-east1-c'], instancesPerZone: 1, spec, listenHost: '127.0.0.1', listenPort: await freePort(), bucket: bucket.root },
      pages: { webdir: 'webdir', index: 100 },
      fault: parseFault('kill'),
      faultZone: 'us-east1-b',
      rate: 100,
      keepalive: false,
      warmupMs: 1000,
      holdMs: 1500,
      maxWaitMs: 20_000,
      outDir: join(parent, 'trials'),
      command: 'test',
      signal: new AbortController().signal,
      trials: 5,
    }).finally(() => lag.close());
    assert.equal(trials.runs.length, 5);
    const faultTimes = trials.runs.map((r) => r.setup.warmupMs);
    assert.equal(new Set(faultTimes).size, 5, `each trial's fault lands at another point of the check cycle: ${faultTimes}`);
    assert.ok(faultTimes.every((ms) => ms >= 1000 && ms < 2000));
    // Each trial against the window, widened by the lag that trial measured (the machine's
    // share, not the load balancer's); the summary's own verdict is tested on fixed metrics.
    for (const name of ['reroute', 'down'] as const) {
      const measure = trials.summary.measures.find((m) => m.measure === name)!;
      measure.values.forEach((value, i) => {
        assertWithin(`${name} of trial ${i + 1}`, value === null ? null : value * 1000, { lowMs: measure.window!.low * 1000, highMs: measure.window!.high * 1000 }, lag.runs[i]!.outageMs);
      });
    }
    const report = await readFile(join(parent, 'trials', 'report.md'), 'utf8');
    assert.match(report, /^# Failover trials: kill on us-east1-b$/m);
    assert.match(report, /\| time to reroute \| \d\.\d\d \[\d\.\d\d–\d\.\d\d\] \|.*\| 0\.80–2\.20 \| (yes|no) \|/);
    assert.deepEqual((await readdir(join(parent, 'trials'))).filter((name) => name.startsWith('trial-')), ['trial-01', 'trial-02', 'trial-03', 'trial-04', 'trial-05']);
    const html = await readFile(join(parent, 'trials', 'report.html'), 'utf8');
    assert.match(html, /<figure class="timeline"[^>]*><svg/, 'the strip plot inline');
    t.diagnostic(`reroute ${trials.summary.measures[0]!.values.join(', ')} s`);

    // zonelab report on the trials folder: every trial and the spread again, and its PDF.
    await rm(join(parent, 'trials', 'report.md'));
    await rm(join(parent, 'trials', 'trial-03', 'report.md'));
    const again = await run(process.execPath, [CLI_PATH, 'report', join(parent, 'trials'), ...(findChromium() ? ['--pdf'] : [])]);
    assert.match(again.stdout, /^trials: .*report\.md \(5 trials\)$/m);
    assert.equal(await readFile(join(parent, 'trials', 'report.md'), 'utf8'), report, 'the same spread from the saved records');
    assert.ok(existsSync(join(parent, 'trials', 'trial-03', 'report.md')), 'each trial rendered again');
    if (findChromium()) assert.equal((await readFile(join(parent, 'trials', 'report.pdf'))).subarray(0, 5).toString(), '%PDF-');
  });

  it('--expect: exit 1 with a line per failed rule and the verdict files; exit 0 when every rule holds; exit 2 for a malformed rule', async () => {
    const base = ['failover', '--profile', 'fast', '--warmup', '1s', '--hold', '1s', '--bucket', bucket.root, '--listen', `127.0.0.1:${await freePort()}`, '--port', String(await freeServerPort())];
    const out = join(parent, 'expect');
    const failing = await run(process.execPath, [CLI_PATH, ...base, '--out-dir', join(out, 'a'), '--trials', '2', '--expect', 'reroute<=10s, max(failed)<=0']).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.equal(failing.code, 1, failing.stderr);
    assert.match(failing.stdout, /^expect: max\(failed\)<=0: FAILED, max\(failed\) = \d+ \(wanted <= 0\)$/m);
    assert.doesNotMatch(failing.stdout, /expect: reroute<=10s/);
    const [folder] = await readdir(join(out, 'a'));
    const verdict = JSON.parse(await readFile(join(out, 'a', folder!, 'verdict.json'), 'utf8'));
    assert.deepEqual(verdict.rules.map((rule: { rule: string; pass: boolean }) => [rule.rule, rule.pass]), [['reroute<=10s', true], ['max(failed)<=0', false]]);
    assert.match(await readFile(join(out, 'a', folder!, 'verdict.xml'), 'utf8'), /<testsuite name="[^"]*" tests="2" failures="1">/);

    const { stdout } = await run(process.execPath, [CLI_PATH, ...base, '--out-dir', join(out, 'b'), '--expect', 'reroute<=10s, return-ready<=10s']);
    assert.match(stdout, /^expect: every rule holds/m);

    const malformed = await run(process.execPath, [CLI_PATH, ...base, '--out-dir', join(out, 'c'), '--expect', 'reroute=<3s']).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /^error: --expect rule 1 "reroute=<3s": expected <measure> <op> <value>/);
    await assert.rejects(readdir(join(out, 'c')), /ENOENT/, 'nothing run');
  });
});
