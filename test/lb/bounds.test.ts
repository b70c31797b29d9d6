import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkViewOf, runBounds } from '../../src/failover/index.js';
import { detectionBound, PROFILES, resolveSpec, returnBound } from '../../src/lb/index.js';
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
