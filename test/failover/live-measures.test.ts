import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailoverTracker, liveRunStatus } from '../../src/failover/index.js';
import type { RequestResult } from '../../src/records/index.js';

const answer = (seq: number, sentAt: number, zone: string | null, status: number | null): RequestResult => ({
  seq,
  sentAt,
  latencyMs: 2,
  status,
  zone,
  instance: zone ? `${zone}-vm1` : null,
  error: status === null ? 'ECONNRESET' : null,
  connection: 'new',
  attempt: 1,
});

describe('the running measurements a live page shows (fixed records)', () => {
  it('follows the run: warm-up, the outage as it clears, reroute and return by the report’s own tracker', () => {
    const tracker = new FailoverTracker('b', 1000);
    const facts = { tracker, answered: 10, failed: 0, lbDownAt: null, readyAt: null };
    assert.deepEqual(liveRunStatus({ ...facts, phase: 'warm-up', now: 2000 }), {
      phase: 'warm-up: load on every zone',
      measures: [
        { label: 'elapsed', value: '2.00 s' },
        // Answered and failed together, as the report counts the run's requests.
        { label: 'requests', value: '10' },
        { label: 'answered', value: '10' },
        { label: 'failed', value: '0' },
      ],
    });
    tracker.faulting();
    tracker.fault(3000);
    tracker.observe(answer(1, 3100, null, null));
    tracker.observe(answer(2, 4500, null, null));
    tracker.observe(answer(3, 4600, 'c', 200));
    const outage = liveRunStatus({ ...facts, phase: 'outage', now: 5000, failed: 2, lbDownAt: 4400 });
    assert.deepEqual(outage.measures.slice(4), [
      { label: 'last bad request', value: '1.50 s after the fault' },
      { label: 'clean for', value: '0.50 s of 1.00 s' },
      { label: 'load balancer down', value: '1.40 s after the fault' },
    ]);
    tracker.restart(7000);
    tracker.observe(answer(4, 7900, 'b', 200));
    const back = liveRunStatus({ ...facts, phase: 'return', now: 8000, failed: 2, lbDownAt: 4400, readyAt: 7500 });
    assert.equal(back.phase, 'return: waiting for the zone to serve again');
    assert.deepEqual(back.measures.slice(4), [
      { label: 'time to reroute', value: '1.50 s' },
      { label: 'load balancer down', value: '1.40 s after the fault' },
      { label: 'time to return', value: '0.90 s (0.40 s from ready)' },
    ]);
  });
});
