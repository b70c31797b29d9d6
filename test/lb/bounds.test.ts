import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkViewOf, runBounds, windowOf } from '../../src/failover/index.js';
import { detectionBound, detectionWindow, PROFILES, rerouteWindow, resolveSpec, returnBound, returnWindow } from '../../src/lb/index.js';
import { parseFault } from '../../src/records/index.js';

describe('bounds per load balancer and fault', () => {
  it('HAProxy: a check that times out delays the next, so timeouts add up per check', () => {
    const fast = PROFILES.fast;
    assert.equal(detectionBound(fast, 'haproxy', 'fails-fast')!.sec, 2.2);
    assert.equal(detectionBound(fast, 'haproxy', 'times-out')!.sec, 4.2);
    assert.equal(detectionBound(PROFILES['gcp-default'], 'haproxy', 'times-out')!.sec, 20.2);
    assert.match(detectionBound(fast, 'haproxy', 'times-out')!.formula, /unhealthy 2 × \(interval 1 s \+ timeout 1 s\)/);
  });

  it('Google Cloud: probes do not wait for each other, so one timeout at most', () => {
    const spec = PROFILES['gcp-default'];
    assert.equal(detectionBound(spec, 'gcp', 'fails-fast')!.sec, 10);
    assert.equal(detectionBound(spec, 'gcp', 'times-out')!.sec, 15);
    assert.equal(returnBound(spec, 'gcp', 'times-out').sec, 15);
    assert.equal(returnBound(spec, 'gcp', 'fails-fast').sec, 10);
  });

  it('no detection bound when the check cannot see the fault', () => {
    assert.equal(detectionBound(PROFILES.fast, 'haproxy', 'passes'), null);
    assert.equal(detectionBound(PROFILES.fast, 'haproxy', 'alternates'), null);
  });

  it('maps each fault to what the check sees, latency by the check timeout', () => {
    const fast = PROFILES.fast;
    const views = ['kill', 'term', 'stop', 'partition', 'reset', 'latency:500', 'latency:1000', 'errors:0.5', 'health-fail', 'flap:2s'].map((f) => checkViewOf(parseFault(f), fast));
    assert.deepEqual(views, ['fails-fast', 'fails-fast', 'times-out', 'times-out', 'fails-fast', 'passes', 'times-out', 'passes', 'fails-fast', 'alternates']);
    assert.equal(checkViewOf(parseFault('latency:3000'), resolveSpec('gcp-default')), 'passes');
  });

  it('a run in the lab is bounded as HAProxy; a target as Google Cloud, its command as a timeout', () => {
    assert.equal(runBounds({ spec: PROFILES.fast, fault: 'stop', where: 'lab' })!.detection!.sec, 4.2);
    assert.equal(runBounds({ spec: PROFILES.fast, fault: 'command', where: 'target' })!.detection!.sec, 3);
    assert.equal(runBounds({ spec: null, fault: 'kill', where: 'lab' }), null);
  });
});

describe('the window the spec predicts (HAProxy\'s documented check schedule)', () => {
  it('HAProxy, checks that fail at once: from (fall − 1) × inter, a fault just before a check, to fall × inter', () => {
    // fast: inter 1 s, fall 2 → DOWN between 1 and 2 s after the kill (0.2 s either side for timers).
    assert.deepEqual(
      (({ low, high }) => ({ low, high }))(detectionWindow(PROFILES.fast, 'haproxy', 'fails-fast')!),
      { low: 0.8, high: 2.2 },
    );
    // gcp-default: inter 5 s, fall 2 → 5 to 10 s.
    assert.deepEqual((({ low, high }) => ({ low, high }))(detectionWindow(PROFILES['gcp-default'], 'haproxy', 'fails-fast')!), { low: 4.8, high: 10.2 });
  });

  it('HAProxy, checks that time out: each failing check waits its timeout, and the next starts an interval after it ended', () => {
    // fast: 2 × 1 s timeout + 1 × 1 s interval = 3 s at the soonest; 2 × (1 + 1) + 0.2 at the latest.
    const window = detectionWindow(PROFILES.fast, 'haproxy', 'times-out')!;
    assert.deepEqual([window.low, window.high], [2.8, 4.2]);
    assert.match(window.formula, /^from unhealthy 2 × timeout 1 s \+ 1 × interval 1 s − 0\.2 s/);
  });

  it('Google Cloud: probes every interval; the return window from rise − 1 intervals', () => {
    const spec = PROFILES['gcp-default'];
    assert.deepEqual([detectionWindow(spec, 'gcp', 'fails-fast')!.low, detectionWindow(spec, 'gcp', 'fails-fast')!.high], [4.8, 10]);
    assert.deepEqual([detectionWindow(spec, 'gcp', 'times-out')!.low, detectionWindow(spec, 'gcp', 'times-out')!.high], [9.8, 15]);
    assert.deepEqual([returnWindow(PROFILES.fast, 'haproxy', 'fails-fast').low, returnWindow(PROFILES.fast, 'haproxy', 'fails-fast').high], [0.8, 2.2]);
    assert.equal(detectionWindow(PROFILES.fast, 'haproxy', 'passes'), null);
  });

  it("behind a passthrough balancer, reroute may come a client timeout before DOWN when packets are dropped (a SYN retransmitted later is sent elsewhere), never otherwise", () => {
    const fast = PROFILES.fast;
    // DOWN from 1.8 s; the last failed connect may have started up to the client's 2 s before.
    const saved = rerouteWindow(fast, 'passthrough', 'times-out', 2)!;
    assert.deepEqual([saved.low, saved.high], [0, detectionWindow(fast, 'passthrough', 'times-out')!.high]);
    assert.match(saved.formula, /less the client's timeout 2 s/);
    assert.equal(rerouteWindow(PROFILES['gcp-default'], 'gcp', 'times-out', 2)!.low, 7.8);
    // A proxy accepts the connection itself; a refused connect is never retransmitted.
    assert.deepEqual(rerouteWindow(fast, 'haproxy', 'times-out', 2), detectionWindow(fast, 'haproxy', 'times-out'));
    assert.deepEqual(rerouteWindow(fast, 'passthrough', 'fails-fast', 2), detectionWindow(fast, 'passthrough', 'fails-fast'));
  });
});

describe("Google Cloud's windows are a model: an allowance for applying a verdict, and what the check sees of a command", () => {
  const gcp = PROFILES['gcp-default'];

  it('the apply delay lengthens the high end of every probers window, never the low end, and says so', () => {
    const plain = detectionWindow(gcp, 'gcp', 'fails-fast')!;
    const allowed = detectionWindow(gcp, 'gcp', 'fails-fast', { applyDelaySec: 2 })!;
    assert.deepEqual([allowed.low, allowed.high], [plain.low, plain.high + 2]);
    assert.match(allowed.formula, /\+ 2 s allowed for Google Cloud to apply the verdict \(not documented; --apply-delay\)/);
    assert.match(allowed.formula, /Google Cloud's probing as modelled here/);
    assert.equal(returnWindow(gcp, 'gcp', 'fails-fast', { applyDelaySec: 2 }).high, returnWindow(gcp, 'gcp', 'fails-fast').high + 2);
    // The lab's passthrough balancer, the same model, with its own delay.
    assert.equal(detectionBound(gcp, 'passthrough', 'fails-fast', { applyDelaySec: 8 })!.sec, 18.2);
    assert.match(detectionBound(gcp, 'passthrough', 'fails-fast', { applyDelaySec: 8 })!.formula, /\+ 8 s the balancer waits before applying a verdict/);
    // A proxy has no such parameter.
    assert.equal(detectionBound(gcp, 'haproxy', 'fails-fast', { applyDelaySec: 8 })!.sec, detectionBound(gcp, 'haproxy', 'fails-fast')!.sec);
  });

  it('a target run takes --check-sees and --apply-delay from its setup; a lab run its passthrough balancer\'s delay', () => {
    const killed = runBounds({ spec: gcp, fault: 'command', where: 'target', checkSees: 'fails-fast', applyDelaySec: 2 })!;
    assert.equal(killed.view, 'fails-fast');
    assert.equal(killed.detection!.sec, 12);
    // Unstated: taken to time out, as before, with no allowance (runs saved before there was one).
    const unstated = runBounds({ spec: gcp, fault: 'command', where: 'target' })!;
    assert.equal(unstated.view, 'times-out');
    assert.equal(unstated.detection!.sec, 15);
    const lab = runBounds({ spec: gcp, fault: 'term', where: 'lab', lb: { kind: 'passthrough', summary: '', settings: { applyDelay: 8 }, limitations: [] } })!;
    assert.equal(lab.detection!.sec, 18.2);
  });

  it('the printed kill command under gcp-default: a SIGKILL rerouted in about 6 s is inside the window it states, not below it', () => {
    const setup = { spec: gcp, fault: 'command', where: 'target' as const, timeoutMs: 2000 };
    const stated = windowOf({ ...setup, checkSees: 'fails-fast', applyDelaySec: 2 }, 'reroute')!;
    assert.ok(stated.low <= 6 && 6 <= stated.high, `${stated.low}–${stated.high}`);
    const assumed = windowOf(setup, 'reroute')!;
    assert.ok(assumed.low > 6, `taken as a timeout the window starts at ${assumed.low} s`);
  });
});
