import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimateRunMs, FailoverPhases, FailoverTracker } from '../../src/failover/index.js';
import { PROFILES } from '../../src/lb/index.js';
import type { RequestResult } from '../../src/records/index.js';

let seq = 0;
function request(sentAt: number, zone: string | null, status: number | null = zone ? 200 : null): RequestResult {
  return { seq: seq++, sentAt, latencyMs: 2, status, zone, instance: zone ? `${zone}-vm1` : null, error: status === null ? 'ECONNREFUSED' : null, connection: 'new', attempt: 1 };
}

const TIMING = { warmupMs: 1000, holdMs: 500, maxWaitMs: 3000 };

/** A run driven by a fake clock: `answer(t)` says who answers a request sent at t; one request every 10 ms. */
function drive(answer: (t: number, phase: string) => RequestResult | null, untilMs = 20_000, healDelayMs = 0) {
  const tracker = new FailoverTracker('b', TIMING.holdMs);
  const phases = new FailoverPhases({ ...TIMING, healDelayMs }, tracker);
  const actions: string[] = [];
  const events: string[] = [];
  for (let now = 0; now <= untilMs; now += 10) {
    const record = answer(now, phases.phase);
    if (record) tracker.observe(record);
    const step = phases.next(now);
    events.push(...step.events.map((e) => `${e.target}@${e.at}`));
    if (step.action === 'wait') continue;
    actions.push(`${step.action}@${now}`);
    if (step.action === 'finish') break;
    // The fault and the heal take 20 ms of I/O; the clock moves on meanwhile.
    if (step.action === 'inject') events.push(...phases.faulted(now + 20).map((e) => `${e.target}@${e.at}`));
    if (step.action === 'heal') {
      phases.healing(now);
      events.push(...phases.ready(now + 20).map((e) => `${e.target}@${e.at}`));
    }
  }
  return { tracker, phases, actions, events };
}

describe('failover phases and tracker (fixture records, fake clock)', () => {
  it('moves on once the reroute has held for holdMs, and ends once the zone has served for holdMs', () => {
    // Zone b fails until 1400 ms, is avoided until it serves again 200 ms after the heal.
    let healAt = Number.POSITIVE_INFINITY;
    const run = drive((t, phase) => {
      if (phase === 'return') healAt = Math.min(healAt, t);
      if (t < 1000) return request(t, t % 20 === 0 ? 'a' : 'b');
      if (t < 1400) return t % 20 === 0 ? request(t, 'a') : request(t, null);
      if (t < healAt + 200) return request(t, 'a');
      return request(t, t % 20 === 0 ? 'a' : 'b');
    });
    // The last failure was sent at 1390 ms: clean for 500 ms at 1890 ms. The zone serves
    // again from 2110 ms (the first request to b 200 ms after the heal), held until 2610 ms.
    assert.deepEqual(run.actions, ['inject@1000', 'heal@1890', 'finish@2610']);
    assert.deepEqual(run.events, ['outage@1020', 'return@1910']);
    assert.equal(run.tracker.timeToRerouteMs, 370);
    assert.equal(run.tracker.timeToReturnMs, 220);
    assert.deepEqual([run.phases.rerouted, run.phases.returned], [true, true]);
  });

  it('waits healDelayMs more before the heal (trials move the restart through the check cycle), without changing the reroute', () => {
    const run = drive((t) => (t < 1000 ? request(t, t % 20 === 0 ? 'a' : 'b') : t < 1400 ? request(t, null) : request(t, 'a')), 20_000, 330);
    assert.equal(run.actions[1], 'heal@2220', 'clean for 500 ms at 1890 ms, plus 330 ms');
    assert.equal(run.tracker.timeToRerouteMs, 370);
  });

  it('gives up on the reroute after maxWaitMs, says so, and heals anyway', () => {
    // Zone b keeps answering 500 after the fault (a gray failure nobody notices).
    const run = drive((t) => request(t, t % 20 === 0 ? 'a' : 'b', t >= 1000 && t % 20 !== 0 ? 500 : 200), 8000);
    assert.equal(run.actions[1], 'heal@4030');
    assert.ok(run.events.includes('not-rerouted@4030'));
    assert.equal(run.phases.rerouted, false);
    assert.equal(run.tracker.rerouted, false);
    assert.equal(run.tracker.timeToRerouteMs, null);
  });

  it('gives up on the return after maxWaitMs when the zone never serves again', () => {
    const run = drive((t) => (t < 1000 ? request(t, t % 20 === 0 ? 'a' : 'b') : request(t, 'a')), 10_000);
    assert.deepEqual(run.actions, ['inject@1000', 'heal@1520', 'finish@4530']);
    assert.ok(run.events.includes('not-returned@4530'));
    assert.equal(run.phases.returned, false);
  });

  it('does not call a stretch clean while a request sent in it is still unanswered', () => {
    const tracker = new FailoverTracker('b');
    tracker.fault(1000);
    tracker.sent(1, 1100);
    tracker.sent(2, 1200);
    tracker.observe({ ...request(1200, 'a'), seq: 2 });
    // 1100 is still hanging on the dead zone: clean only from the fault to it.
    assert.equal(tracker.cleanFor(5000), 100);
    tracker.observe({ ...request(1100, null), seq: 1 });
    assert.equal(tracker.cleanFor(5000), 3900);
  });

  it('judges the answers that arrived while the fault was being injected once its time is known', () => {
    const tracker = new FailoverTracker('b', 500);
    tracker.faulting();
    // A draining server keeps serving while the injection waits for it to exit.
    tracker.observe(request(1100, 'b'));
    tracker.observe(request(1400, 'b'));
    tracker.observe(request(1500, 'a'));
    tracker.fault(1000);
    assert.equal(tracker.lastBadSentAt, 1400);
    assert.equal(tracker.cleanFor(1800), 400);
  });

  it('counts a request as rerouted by when it was sent, whatever order results arrive in', () => {
    const inOrder = new FailoverTracker('b');
    const shuffled = new FailoverTracker('b');
    for (const tracker of [inOrder, shuffled]) tracker.fault(1000);
    const records = [request(1000, null), request(1100, 'b'), request(1200, 'a'), request(1300, 'a'), request(1250, null)];
    for (const record of records) inOrder.observe(record);
    for (const record of [...records].reverse()) shuffled.observe(record);
    for (const tracker of [inOrder, shuffled]) {
      assert.equal(tracker.rerouted, true);
      assert.equal(tracker.timeToRerouteMs, 250);
      assert.equal(tracker.cleanFor(1750), 500);
    }
  });
});

describe('how long a run takes, for the matrix estimate', () => {
  it('adds the lab, the warm-up, the bounds the spec implies and the holds', () => {
    // fast × kill: down within 2 × 1 s + 0.2, back within 2 × 1 s + 0.2.
    assert.equal(estimateRunMs({ spec: PROFILES.fast, fault: 'kill', where: 'lab', warmupMs: 5000, holdMs: 5000, maxWaitMs: 60_000 }), 4000 + 5000 + 2200 + 5000 + 1000 + 2200 + 5000);
    // A fault the check cannot see waits the whole --max-wait.
    assert.equal(estimateRunMs({ spec: PROFILES.fast, fault: 'errors:0.5', where: 'lab', warmupMs: 5000, holdMs: 5000, maxWaitMs: 60_000 }), 4000 + 5000 + 60_000 + 5000 + 1000 + 2200 + 5000);
  });
});
