import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RequestResult } from '../../src/client/index.js';
import { type ExperimentResult, type ExperimentWatcher, runBounds, runExperiment } from '../../src/failover/index.js';
import { createFailoverFeed } from '../../src/web/index.js';
import { type FaultKind, parseFault, type RunEvent } from '../../src/records/index.js';
import { startLab } from '../../src/lab/index.js';
import { type LoadBalancerSpec, type ProfileName, resolveSpec } from '../../src/lb/index.js';
import { endLabsUnder } from '../helpers/lab-process.js';
import { freePort } from '../helpers/free-port.js';
import { assertWithin, lagWatcher, type RunLag } from '../helpers/lag.js';
import { CLI_PATH } from '../helpers/paths.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';

const hasHaproxy = spawnSync('haproxy', ['-v']).status === 0;
const skip = hasHaproxy ? false : 'haproxy is not installed (apt-get install -y haproxy)';

/** The same load and phases for every run: short, so the whole suite stays near 90 s. */
const PHASES = {
  faultZone: 'zone-b',
  rate: 100,
  keepalive: false,
  warmupMs: 2000,
  holdMs: 2000,
  maxWaitMs: 20_000,
  command: 'test',
  signal: new AbortController().signal,
};

describe('failover experiment end to end (real HAProxy, real processes, real signals)', { skip }, () => {
  let parent: string;
  let bucket: TempBucket;
  let runs = 0;

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-failover-'));
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

  async function spec(profile: ProfileName, mode: 'tcp' | 'http'): Promise<LoadBalancerSpec> {
    return { ...resolveSpec(profile, { mode }), port: await freePort('127.0.1.1') };
  }

  async function experiment(profile: ProfileName, fault: FaultKind, mode: 'tcp' | 'http' = 'tcp', watcher?: ExperimentWatcher): Promise<ExperimentResult> {
    return runExperiment({
      ...(watcher ? { watcher } : {}),
      lab: {
        zones: ['zone-a', 'zone-b'],
        instancesPerZone: 1,
        spec: await spec(profile, mode),
        listenHost: '127.0.0.1',
        listenPort: await freePort(),
        bucket: bucket.root,
      },
      pages: { index: 100 },
      fault: parseFault(fault),
      ...PHASES,
      outDir: join(parent, `run-${++runs}`),
    });
  }

  async function records(result: ExperimentResult): Promise<RequestResult[]> {
    return (await readFile(join(result.dir, 'results.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as RequestResult);
  }

  let fastKill: ExperimentResult;
  let fastKillLag: RunLag;

  it("profile fast, fault kill: rerouted and back within the spec's bounds, an even split before, every file written", async (t) => {
    // The live page's feed rides along (no browser): what a page would be sent.
    const live = createFailoverFeed({ title: 'fast × kill', zones: ['zone-a', 'zone-b'], spec: await spec('fast', 'tcp') });
    const lag = lagWatcher(live.watcher);
    fastKill = await experiment('fast', 'kill', 'tcp', lag.watcher).finally(() => lag.close());
    live.feed.done({ lines: [], reportHtml: '' });
    const page = live.feed.snapshot();
    live.feed.close();
    const m = fastKill.metrics;
    const [spans] = lag.runs;
    fastKillLag = spans!;
    const bounds = runBounds(fastKill.setup)!;
    t.diagnostic(`reroute ${m.timeToRerouteMs} ms, return from ready ${m.timeToReturnFromReadyMs} ms, failed ${m.errors.count}; lag ${JSON.stringify(spans)}`);
    assert.ok(m.rerouted && m.returned);
    assertWithin('time to reroute', m.timeToRerouteMs, { highMs: bounds.detection!.sec * 1000 }, spans!.outageMs);
    assertWithin('time to return from ready', m.timeToReturnFromReadyMs, { highMs: bounds.return.sec * 1000 }, spans!.returnMs);
    const before = m.phases[0]!;
    const shareA = (before.byZone['zone-a'] ?? 0) / before.answered;
    assert.ok(shareA >= 0.4 && shareA <= 0.6, `zone-a served ${(shareA * 100).toFixed(1)}% before the fault`);
    assert.ok(m.lb.downAfterFaultMs !== null && m.lb.upAfterReadyMs !== null, 'HAProxy’s DOWN and UP were seen');
    const report = await readFile(join(fastKill.dir, 'report.md'), 'utf8');
    assert.match(report, /\| time to reroute .* \| \d+\.\d\d s \| ≤ 2\.2 s \|/);
    assert.match(await readFile(join(fastKill.dir, 'timeline.svg'), 'utf8'), /^<svg /);
    const events = (await readFile(join(fastKill.dir, 'events.ndjson'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(
      events.filter((e) => ['fault', 'recover', 'server-ready'].includes(e.kind)).map((e) => e.kind),
      ['fault', 'recover', 'server-ready'],
    );
    const all = await records(fastKill);
    assert.equal(all.length > 800, true);

    // The feed counted every answer the report counts, per zone and failed, and marked the run's steps.
    const byBin = (series: string) => page.bins.filter((bin) => bin.series === series).reduce((sum, bin) => sum + bin.n, 0);
    assert.equal(byBin('zone-a'), all.filter((r) => r.zone === 'zone-a' && r.status !== null && r.status < 500).length, 'zone-a on the page and in the records');
    assert.equal(byBin('zone-a') + byBin('zone-b') + byBin('failed'), all.length, 'every answer on the page');
    const labels = page.marks.map((mark) => mark.label);
    for (const label of ['fault kill zone-b', 'LB DOWN zone-b-vm1', 'restart zone-b', 'ready zone-b', 'LB UP zone-b-vm1']) assert.ok(labels.includes(label), `${label} in ${labels.join(', ')}`);
    assert.deepEqual(page.phases.map((phase) => phase.name), ['warm-up', 'outage', 'return']);
    assert.ok(page.phases.every((phase) => phase.t1 !== null), 'every phase ended');
    assert.ok(page.backends.every((backend) => backend.state === 'serving'), `both backends serving at the end: ${JSON.stringify(page.backends)}`);
  });

  for (const mode of ['tcp', 'http'] as const) {
    it(`profile zero-error, fault term, mode ${mode}: not one failed request`, async (t) => {
      const result = await experiment('zero-error', 'term', mode);
      t.diagnostic(`reroute ${result.metrics.timeToRerouteMs} ms, failed ${result.metrics.errors.count}`);
      assert.deepEqual(result.metrics.errors, { count: 0, byKind: {} });
      assert.ok(result.metrics.rerouted && result.metrics.returned);
    });
  }

  it('profile zero-error, fault kill, mode http: not one failed request (HAProxy retries the GETs)', async (t) => {
    const result = await experiment('zero-error', 'kill', 'http');
    t.diagnostic(`reroute ${result.metrics.timeToRerouteMs} ms, failed ${result.metrics.errors.count}`);
    assert.deepEqual(result.metrics.errors, { count: 0, byKind: {} });
  });

  it('profile zero-error, fault kill, mode tcp: no more failures than requests in flight while the killed server exits', async (t) => {
    const result = await experiment('zero-error', 'kill', 'tcp');
    const faultAt = result.metrics.faultAt!;
    // SIGKILL is not instantaneous: until the process has gone (a few ms for a Node.js
    // process with its threads), the kernel still completes handshakes on its listening
    // socket, and in tcp mode HAProxy cannot retry a request it has forwarded into one.
    // The run records when the kill was over (the lab saw the process gone).
    const events = (await readFile(join(result.dir, 'events.ndjson'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as RunEvent);
    const goneAt = events.find((event) => event.kind === 'phase' && event.target === 'fault-settled')?.at;
    assert.ok(goneAt !== undefined && goneAt >= faultAt, 'the run says when the killed server was gone');
    const all = await records(result);
    const inFlight = all.filter((r) => r.sentAt <= goneAt && r.sentAt + r.latencyMs >= faultAt).length;
    const failures = all.filter((r) => r.status === null || r.status >= 500).map((r) => Math.round(r.sentAt - faultAt));
    t.diagnostic(`failed ${result.metrics.errors.count} (sent at ${failures.join(', ') || '—'} ms from the kill), in flight ${inFlight} until the server was gone ${Math.round(goneAt - faultAt)} ms after the kill`);
    assert.ok(result.metrics.errors.count <= inFlight, `${result.metrics.errors.count} failed, ${inFlight} in flight`);
  });

  it("profile gcp-default, fault kill: rerouted within the spec's bound", async (t) => {
    const lag = lagWatcher();
    const result = await experiment('gcp-default', 'kill', 'tcp', lag.watcher).finally(() => lag.close());
    t.diagnostic(`reroute ${result.metrics.timeToRerouteMs} ms; lag ${JSON.stringify(lag.runs[0])}`);
    assert.ok(result.metrics.rerouted);
    assertWithin('time to reroute', result.metrics.timeToRerouteMs, { highMs: runBounds(result.setup)!.detection!.sec * 1000 }, lag.runs[0]!.outageMs);
  });

  it('--target mode with lab stop/start commands measures what the built-in mode measures', async (t) => {
    const labSpec = await spec('fast', 'tcp');
    const listenPort = await freePort();
    const dir = join(parent, 'target-lab');
    const lab = await startLab({ zones: ['zone-a', 'zone-b'], instancesPerZone: 1, spec: labSpec, listenHost: '127.0.0.1', listenPort, bucket: bucket.root, dir });
    try {
      const cli = `"${process.execPath}" "${CLI_PATH}"`;
      const lag = lagWatcher();
      const result = await runExperiment({
        watcher: lag.watcher,
        target: { url: `http://127.0.0.1:${listenPort}`, kill: `${cli} lab stop zone-b --dir "${dir}"`, restart: `${cli} lab start zone-b --dir "${dir}"`, spec: labSpec },
        pages: { bucket: 'bucket', index: 100 },
        fault: parseFault('kill'),
        ...PHASES,
        outDir: join(parent, 'target-run'),
      }).finally(() => lag.close());
      const spans = lag.runs[0]!;
      const m = result.metrics;
      const builtIn = fastKill.metrics;
      t.diagnostic(`target: reroute ${m.timeToRerouteMs} ms, return from ready ${m.timeToReturnFromReadyMs} ms; built-in: ${builtIn.timeToRerouteMs} ms, ${builtIn.timeToReturnFromReadyMs} ms`);
      assert.ok(m.rerouted && m.returned);
      // The two runs meet HAProxy's check schedule at different points: up to one check
      // interval (1 s) apart whatever the tool measures, so that is the allowance.
      assertWithin('the difference of the two reroute times', Math.abs(m.timeToRerouteMs! - builtIn.timeToRerouteMs!), { highMs: labSpec.checkIntervalSec * 1000 }, spans.outageMs + fastKillLag.outageMs);
      // A command's effect is unknown to the run, so its bounds are those of checks that
      // time out; the lab's kill fails them at once, which those bounds include.
      const bounds = runBounds(result.setup)!;
      assertWithin('time to reroute', m.timeToRerouteMs, { highMs: bounds.detection!.sec * 1000 }, spans.outageMs);
      assertWithin('time to return from ready', m.timeToReturnFromReadyMs, { highMs: bounds.return.sec * 1000 }, spans.returnMs);
      // The stated spec reaches the setup and the report's bounds.
      assert.deepEqual(result.setup.spec, labSpec);
      const report = await readFile(join(parent, 'target-run', 'report.md'), 'utf8');
      // 2 × 1 + 1, and the 2 s a target is allowed for applying a verdict.
      assert.match(report, /\| time to reroute .* \| ≤ 5 s \|/);
      assert.match(report, /\| health check \| GET \/healthz every 1 s, timeout 1 s/);
      // The restart came from another process (the command): lab down must still find it.
      const restartedPid = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).servers.find((s: { zone: string }) => s.zone === 'zone-b').pid;
      await lab.down();
      // Gone, or a zombie left to an init that does not reap: either way, not running.
      const stat = await readFile(`/proc/${restartedPid}/stat`, 'utf8').catch(() => '');
      assert.ok(stat === '' || stat.split(') ')[1]?.startsWith('Z'), `server ${restartedPid} still running after lab down`);
    } finally {
      await lab.down().catch(() => {});
    }
  });
});
