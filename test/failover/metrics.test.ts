import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeFailoverMetrics, failureBursts } from '../../src/failover/metrics.js';
import type { RequestResult, RunEvent } from '../../src/records/index.js';

const A = { zone: 'zone-a', instance: 'a-vm1' };
const B = { zone: 'zone-b', instance: 'b-vm1' };
const FAULT = { zone: 'zone-b', instances: ['b-vm1'] };

/** One request every 10 ms; `who(t)` says who answered the request sent at t (or the error). */
function run(untilMs: number, who: (t: number) => typeof A | string, connection: RequestResult['connection'] = 'new'): RequestResult[] {
  const records: RequestResult[] = [];
  for (let t = 0, seq = 0; t < untilMs; t += 10, seq++) {
    const answer = who(t);
    records.push(
      typeof answer === 'string'
        ? { seq, sentAt: t, latencyMs: 1, status: null, zone: null, instance: null, error: answer, connection, attempt: 1 }
        : { seq, sentAt: t, latencyMs: 1, status: 200, zone: answer.zone, instance: answer.instance, error: null, connection, attempt: 1 },
    );
  }
  return records;
}

const alternate = (t: number) => ((t / 10) % 2 === 0 ? A : B);
const events: RunEvent[] = [
  { at: 1000, kind: 'fault', target: 'zone-b', detail: 'kill' },
  { at: 1600, kind: 'lb-state', target: 'b-vm1', detail: 'DOWN' },
  { at: 3000, kind: 'recover', target: 'zone-b', detail: 'start' },
  { at: 3200, kind: 'server-ready', target: 'b-vm1', detail: '' },
  { at: 4200, kind: 'lb-state', target: 'b-vm1', detail: 'UP' },
];

describe('failover metrics', () => {
  it('counts a backend back in service at its first serving state after the restart: UP n/m too (several probers, some still unhealthy)', () => {
    const records = run(6000, (t) => (t < 1000 || t >= 4300 ? alternate(t) : A));
    // A passthrough balancer with three probers: back in service (two say healthy) at 3900 ms, all three at 4400.
    const probed = events.map((event) => (event.kind === 'lb-state' && event.detail === 'UP' && event.at === 4200 ? { ...event, at: 4400 } : event));
    probed.splice(probed.length - 1, 0, { at: 3900, kind: 'lb-state', target: 'b-vm1', detail: 'UP 1/2' });
    const m = computeFailoverMetrics(records, probed.sort((a, b) => a.at - b.at), FAULT);
    assert.equal(m.lb.upAfterReadyMs, 3900 - 3200);
  });

  it('measures reroute, errors, gap, return and the LB view of a textbook failover', () => {
    // Zone b refuses from the fault until 1500 ms, is avoided until it returns at 4300 ms.
    const records = run(6000, (t) => {
      if (t < 1000) return alternate(t);
      if (t < 1500) return (t / 10) % 2 === 0 ? A : 'ECONNREFUSED';
      if (t < 4300) return A;
      return alternate(t);
    });
    const m = computeFailoverMetrics(records, events, FAULT);
    assert.equal(m.timeToRerouteMs, 490);
    assert.equal(m.rerouted, true);
    assert.deepEqual(m.errors, { count: 25, byKind: { ECONNREFUSED: 25 } });
    assert.equal(m.errorWindowMs, 480);
    assert.equal(m.longestGapMs, 20);
    assert.equal(m.timeToReturnMs, 1310);
    assert.equal(m.timeToReturnFromReadyMs, 1110);
    assert.deepEqual(m.lb, { downAfterFaultMs: 600, upAfterRestartMs: 1200, upAfterReadyMs: 1000 });
    const [before, outage, after] = m.phases;
    assert.deepEqual(before!.byZone, { 'zone-a': 50, 'zone-b': 50 });
    // The first request zone b serves again is the one sent at 4310 ms.
    assert.deepEqual(outage!.byZone, { 'zone-a': 306 });
    assert.deepEqual(after!.byInstance, { 'a-vm1': 84, 'b-vm1': 85 });
  });

  it('reports no errors at all as zeros and nulls, not as failures', () => {
    const records = run(6000, (t) => (t >= 1000 && t < 4000 ? A : alternate(t)));
    const m = computeFailoverMetrics(records, events, FAULT);
    assert.deepEqual(m.errors, { count: 0, byKind: {} });
    assert.equal(m.errorWindowMs, null);
    assert.equal(m.timeToRerouteMs, 0);
  });

  it('says "never rerouted" when the faulted zone keeps failing until the restart', () => {
    const records = run(3000, (t) => (t < 1000 ? alternate(t) : (t / 10) % 2 === 0 ? A : 'TIMEOUT'));
    const m = computeFailoverMetrics(records, events.slice(0, 3), FAULT);
    assert.equal(m.rerouted, false);
    assert.equal(m.timeToRerouteMs, null);
  });

  it('claims no reroute for a run interrupted a moment after the fault, before any request could say (nor before the hold)', () => {
    const interrupted = [...events.slice(0, 1), { at: 1010, kind: 'phase' as const, target: 'done', detail: 'interrupted' }];
    const before = run(1000, alternate);
    const none = computeFailoverMetrics(before, interrupted, FAULT);
    assert.equal(none.rerouted, false, 'no request after the fault');
    assert.equal(none.timeToRerouteMs, null);
    const oneGood = computeFailoverMetrics(run(1010, (t) => (t < 1000 ? alternate(t) : A)), interrupted, { ...FAULT, holdMs: 1000 });
    assert.equal(oneGood.rerouted, false, 'one good answer is not a hold of 1 s');
    const held = computeFailoverMetrics(run(2100, (t) => (t < 1000 ? alternate(t) : A)), events.slice(0, 1), { ...FAULT, holdMs: 1000 });
    assert.equal(held.rerouted, true, 'good answers for the hold after the fault');
    assert.equal(held.timeToRerouteMs, 0);
  });

  it('says "never returned" when the zone does not serve again', () => {
    const records = run(6000, (t) => (t < 1000 ? alternate(t) : A));
    const m = computeFailoverMetrics(records, events, FAULT);
    assert.equal(m.returned, false);
    assert.equal(m.timeToReturnMs, null);
    assert.equal(m.phases[2]!.answered, 0);
  });

  it('counts errors from before the fault instead of hiding them, and keeps them out of the reroute time', () => {
    const records = run(6000, (t) => (t === 200 ? 'ECONNRESET' : t >= 1000 && t < 4000 ? A : alternate(t)));
    const m = computeFailoverMetrics(records, events, FAULT);
    assert.deepEqual(m.errors.byKind, { ECONNRESET: 1 });
    assert.equal(m.errorWindowMs, 0);
    assert.equal(m.timeToRerouteMs, 0);
  });

  it('counts a reused connection pinned to the dead backend until it fails', () => {
    // With keep-alive the pinned connection keeps reaching zone b for 800 ms after the fault.
    const records = run(
      6000,
      (t) => {
        if (t < 1000) return alternate(t);
        if (t < 1800) return (t / 10) % 2 === 1 ? B : A;
        if (t < 1810) return 'ECONNRESET';
        return t < 4000 ? A : alternate(t);
      },
      'reused',
    );
    const m = computeFailoverMetrics(records, events, FAULT);
    assert.equal(m.timeToRerouteMs, 800);
    assert.deepEqual(m.errors.byKind, { ECONNRESET: 1 });
  });

  it('counts 5xx answers as failures and 400 refusals as answers', () => {
    const records = run(2000, alternate).map((r) => (r.sentAt === 1500 ? { ...r, status: 503 } : r.sentAt === 1510 ? { ...r, status: 400 } : r));
    const m = computeFailoverMetrics(records, [], FAULT);
    assert.deepEqual(m.errors.byKind, { 'HTTP 503': 1 });
    assert.equal(m.faultAt, null);
    assert.equal(m.phases[0]!.answered, 200);
  });

  it('finds failures that keep coming back in bursts more than a second apart, and nothing in one burst', () => {
    // A burst at the fault, then one failed request every 3 s (a balancer retrying the zone with real traffic).
    assert.deepEqual(failureBursts([0, 20, 40, 2400, 5400, 8400, 11_400]), { bursts: 5, everyMs: 3000 });
    assert.equal(failureBursts([0, 20, 40, 900, 1800]), null);
    assert.equal(failureBursts([0, 5000]), null);
    assert.equal(failureBursts([]), null);
    const retried = run(12_000, (t) => (t < 1000 ? alternate(t) : t % 3000 === 0 ? 'ECONNRESET' : A));
    assert.deepEqual(computeFailoverMetrics(retried, events.slice(0, 2), FAULT).recurringFailures, { bursts: 3, everyMs: 3000 });
  });
});
