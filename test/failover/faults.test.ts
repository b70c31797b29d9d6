import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ExperimentResult, runBounds, runExperiment } from '../../src/failover/index.js';
import { nftTableOf } from '../../src/lab/index.js';
import { type ProfileName, resolveSpec } from '../../src/lb/index.js';
import type { RequestResult } from '../../src/client/index.js';
import { parseFault } from '../../src/records/index.js';
import { freePort } from '../helpers/free-port.js';
import { skipWithoutHaproxy, endLabsUnder } from '../helpers/lab-process.js';
import { assertWithin, lagWatcher, type RunLag } from '../helpers/lag.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';

const hasNft = spawnSync('nft', ['--version']).status === 0;
const asRoot = process.getuid?.() === 0;
const skip = skipWithoutHaproxy;
const skipNetwork = skip || (hasNft && asRoot ? false : 'network faults need root and nftables');

const PHASES = {
  faultZone: 'zone-b',
  rate: 100,
  keepalive: false,
  warmupMs: 1500,
  holdMs: 1500,
  maxWaitMs: 5000,
  command: 'test',
  signal: new AbortController().signal,
};

describe('failover under every kind of fault (real HAProxy, real nftables, real processes)', { skip }, () => {
  let parent: string;
  let bucket: TempBucket;
  let runs = 0;

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-fault-kinds-'));
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

  /** A run, and the lag it measured over its outage and its return. */
  async function experiment(profile: ProfileName, fault: string, mode: 'tcp' | 'http' = 'tcp'): Promise<ExperimentResult & { lag: RunLag }> {
    const outDir = join(parent, `run-${++runs}`);
    const lag = lagWatcher();
    const result = await runExperiment({
      watcher: lag.watcher,
      lab: {
        zones: ['zone-a', 'zone-b'],
        instancesPerZone: 1,
        spec: { ...resolveSpec(profile, { mode }), port: await freePort('127.0.1.1') },
        listenHost: '127.0.0.1',
        listenPort: await freePort(),
        bucket: bucket.root,
      },
      pages: { index: 100 },
      fault: parseFault(fault),
      ...PHASES,
      outDir,
    }).finally(() => lag.close());
    // Whatever the fault, the lab's rules went with it.
    assert.equal(spawnSync('nft', ['list', 'table', 'inet', nftTableOf(join(outDir, 'lab'))]).status === 0, false, 'nftables table left behind');
    return { ...result, lag: lag.runs[0]! };
  }

  const outage = (result: ExperimentResult, zone: string) => result.metrics.zones.find((z) => z.phase === 'outage' && z.zone === zone);

  it('partition under fast: HAProxy marks the zone DOWN and traffic is rerouted within the computed bound', { skip: skipNetwork }, async (t) => {
    const result = await experiment('fast', 'partition');
    const m = result.metrics;
    const bound = runBounds(result.setup)!.detection!;
    t.diagnostic(`reroute ${m.timeToRerouteMs} ms, DOWN ${m.lb.downAfterFaultMs} ms, bound ${bound.sec} s; failed ${m.errors.count} (${JSON.stringify(m.errors.byKind)})`);
    assert.equal(bound.sec, 4.2);
    assert.ok(m.rerouted && m.returned);
    assertWithin('DOWN', m.lb.downAfterFaultMs, { highMs: bound.sec * 1000 }, result.lag.outageMs);
    assertWithin('time to reroute', m.timeToRerouteMs, { highMs: bound.sec * 1000 }, result.lag.outageMs);
    // HAProxy (tcp mode) resets a client whose backend connect timed out.
    assert.ok(m.errors.count > 0, 'requests sent to the partitioned zone before DOWN fail');
    // No run here left a table (other test files' labs may hold theirs at this moment).
    const left = Array.from({ length: runs }, (_, i) => nftTableOf(join(parent, `run-${i + 1}`, 'lab'))).filter((table) => spawnSync('nft', ['list', 'table', 'inet', table]).status === 0);
    assert.deepEqual(left, []);
  });

  it('errors:0.5 under fast: not rerouted (the check still passes), and about half the zone\'s requests fail', async () => {
    const result = await experiment('fast', 'errors:0.5');
    assert.equal(result.metrics.rerouted, false);
    const b = outage(result, 'zone-b')!;
    const rate = b.failed / b.requests;
    assert.ok(rate >= 0.4 && rate <= 0.6, `zone-b failed ${b.failed} of ${b.requests} in the outage`);
    assert.equal(outage(result, 'zone-a')!.failed, 0);
    const report = await readFile(join(result.dir, 'report.md'), 'utf8');
    assert.match(report, /\| time to reroute .* \| not rerouted: the health check still passes \| none: the health check still passes \|/);
  });

  it('errors:0.5 under zero-error (HTTP mode): passive observation takes the zone out at its first error', async (t) => {
    const result = await experiment('zero-error', 'errors:0.5', 'http');
    const m = result.metrics;
    const b = outage(result, 'zone-b');
    const total = m.zones.filter((z) => z.phase === 'outage').reduce((sum, z) => sum + z.requests, 0);
    t.diagnostic(`DOWN ${m.lb.downAfterFaultMs} ms after the fault; zone-b answered ${b?.requests ?? 0} of ${total} outage requests, ${b?.failed ?? 0} failed; rerouted ${m.rerouted}`);
    // Passive observation marks the server down at its first error, and the run reads
    // HAProxy's view every 100 ms: DOWN comes at most that long after the first failed answer.
    const firstError = (await readFile(join(result.dir, 'results.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as RequestResult)
      .filter((r) => r.sentAt >= m.faultAt! && r.zone === 'zone-b' && r.status !== null && r.status >= 500)
      .map((r) => r.sentAt + r.latencyMs)
      .sort((a, b) => a - b)[0];
    assert.ok(firstError !== undefined, 'zone-b failed at least one request');
    assertWithin('DOWN after the fault', m.lb.downAfterFaultMs, { highMs: firstError - m.faultAt! + 100 }, result.lag.outageMs);
    // Under fast the same fault leaves zone-b half the traffic and fails a quarter of all
    // requests; here its passing checks bring it back every healthy × interval (2 s), and
    // its next error takes it out again: a request or two each time.
    assert.ok((b?.requests ?? 0) <= total * 0.05, `zone-b still answered ${b?.requests} of ${total}`);
    assert.ok(m.errors.count <= total * 0.02, `${m.errors.count} of ${total} failed`);
  });

  it('health-fail under fast: a healthy zone drained by its failing check, without a failed request', async () => {
    const result = await experiment('fast', 'health-fail');
    const m = result.metrics;
    assert.ok(m.rerouted && m.returned);
    assert.equal(m.errors.count, 0);
    assertWithin('time to reroute', m.timeToRerouteMs, { highMs: runBounds(result.setup)!.detection!.sec * 1000 }, result.lag.outageMs);
  });

  it('latency:500 under fast: the zone answers slowly, its check still passes, so it keeps its share', async () => {
    const result = await experiment('fast', 'latency:500');
    assert.equal(result.metrics.rerouted, false);
    const b = outage(result, 'zone-b')!;
    assert.ok(b.p50Ms! >= 500, `zone-b p50 ${b.p50Ms} ms`);
    assertWithin('zone-a p50', outage(result, 'zone-a')!.p50Ms, { highMs: 100 }, result.lag.outageMs);
  });
});
