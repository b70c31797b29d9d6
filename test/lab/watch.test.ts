import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BackendStatus, checkInWords, LabObserver, processInWords, splitLine, stateInWords } from '../../src/lab/index.js';
import { PROFILES } from '../../src/lb/index.js';

describe('the foreground lab in words', () => {
  it('says what HAProxy thinks of a backend with the spec’s thresholds', () => {
    const spec = { ...PROFILES.fast, unhealthyThreshold: 3, healthyThreshold: 2 };
    assert.deepEqual(
      ['UP', 'UP 1/3', 'UP 2/3', 'DOWN', 'DOWN 1/2', 'MAINT', 'NOLB', null].map((status) => stateInWords(status, spec)),
      // HAProxy's UP n/m: n more failed checks of m to go, so UP 1/3 has failed two.
      ['serving', 'checks failing (2 of 3)', 'checks failing (1 of 3)', 'down', 'coming back (1 of 2 checks passed)', 'in maintenance', 'draining (no new traffic)', 'unknown (the load balancer does not answer)'],
    );
  });

  it('says what the process is doing, with its fault', () => {
    assert.equal(processInWords({ process: 'stopped', server: { fault: 'kill' } }), 'stopped (kill)');
    assert.equal(processInWords({ process: 'paused', server: { fault: 'stop' } }), 'frozen (stop)');
    assert.equal(processInWords({ process: 'running', server: { fault: 'latency:500' } }), 'running, fault latency:500');
    assert.equal(processInWords({ process: 'running', server: { fault: null } }), 'running');
  });

  it('splits a second of connections per zone, and stays quiet without traffic', () => {
    assert.equal(splitLine(new Map([['us-east1-c', 49], ['us-east1-b', 51]])), 'the load balancer sent in the last second: us-east1-b 51 (51%), us-east1-c 49 (49%)');
    assert.equal(splitLine(new Map([['us-east1-b', 0]])), null);
  });
});

describe('looks at a lab turned into changes and counts (HAProxy counters)', () => {
  const server = (name: string, zone: string) => ({ name, zone, fault: null }) as unknown as BackendStatus['server'];
  const row = (name: string, zone: string, status: string, sessions: number, failedTotal = 0, redispatched = 0, process: BackendStatus['process'] = 'running'): BackendStatus => ({
    server: server(name, zone),
    process,
    lb: { server: name, status, up: status.startsWith('UP'), checkStatus: 'L7OK', sessionsTotal: sessions, failedTotal, redispatchedTotal: redispatched },
  });

  it('takes the first look as the baseline, then counts served and failed per zone; a redispatched connection counts where it was served', () => {
    const observer = new LabObserver();
    const first = observer.observe([row('b1', 'b', 'UP', 100), row('c1', 'c', 'UP', 100)]);
    assert.deepEqual([first.changes, [...first.served], [...first.failed]], [[], [], []]);
    // b: 10 new connections, 4 failed, 2 moved to c (which counts them among its 30).
    const next = observer.observe([row('b1', 'b', 'UP 1/2', 110, 4, 2, 'stopped'), row('c1', 'c', 'UP', 130)]);
    assert.deepEqual([...next.served], [['b', 4], ['c', 30]]);
    assert.deepEqual([...next.failed], [['b', 4], ['c', 0]]);
    assert.deepEqual(
      next.changes.map((c) => [c.server.name, c.kind, c.from, c.to]),
      [
        ['b1', 'process', 'running', 'stopped'],
        ['b1', 'lb', 'UP', 'UP 1/2'],
      ],
    );
  });

  it('never counts backwards when HAProxy restarts its counters', () => {
    const observer = new LabObserver();
    observer.observe([row('b1', 'b', 'UP', 500)]);
    const afterRestart = observer.observe([row('b1', 'b', 'UP', 3)]);
    assert.deepEqual([...afterRestart.served], []);
    const then = observer.observe([row('b1', 'b', 'UP', 8)]);
    assert.deepEqual([...then.served], [['b', 5]]);
  });

  it('says when a second had failures too', () => {
    assert.equal(splitLine(new Map([['b', 0], ['c', 40]]), 7), 'the load balancer sent in the last second: b 0 (0%), c 40 (100%); 7 failed');
  });
});

describe('the last check in words (pure)', () => {
  it("speaks the watcher's words for every balancer's codes, and shows an unknown code as it is", () => {
    assert.deepEqual(
      ['L7OK', '200', 'L4TOUT', 'timeout', 'L4CON', 'refused', 'L7STS', '503', 'INI', '', 'XYZ'].map(checkInWords),
      ['last check passed', 'last check passed', 'last check timed out', 'last check timed out', 'last check refused', 'last check refused', 'last check answered an error status', 'last check answered an error status', 'not checked yet', '', 'last check: XYZ'],
    );
  });
});
