import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { processInWords, splitLine, stateInWords } from '../../src/lab/index.js';
import { PROFILES } from '../../src/lb/index.js';

describe('the foreground lab in words', () => {
  it('says what HAProxy thinks of a backend with the spec’s thresholds', () => {
    const spec = { ...PROFILES.fast, unhealthyThreshold: 3, healthyThreshold: 2 };
    assert.deepEqual(
      ['UP', 'UP 1/3', 'UP 2/3', 'DOWN', 'DOWN 1/2', 'MAINT', 'NOLB', null].map((status) => stateInWords(status, spec)),
      ['serving', 'checks failing (1 of 3)', 'checks failing (2 of 3)', 'down', 'coming back (1 of 2 checks passed)', 'in maintenance', 'draining (no new traffic)', 'unknown (HAProxy does not answer)'],
    );
  });

  it('says what the process is doing, with its fault', () => {
    assert.equal(processInWords({ process: 'stopped', server: { fault: 'kill' } }), 'stopped (kill)');
    assert.equal(processInWords({ process: 'paused', server: { fault: 'stop' } }), 'frozen (stop)');
    assert.equal(processInWords({ process: 'running', server: { fault: 'latency:500' } }), 'running, fault latency:500');
    assert.equal(processInWords({ process: 'running', server: { fault: null } }), 'running');
  });

  it('splits a second of connections per zone, and stays quiet without traffic', () => {
    assert.equal(splitLine(new Map([['us-east1-c', 49], ['us-east1-b', 51]])), 'HAProxy sent in the last second: us-east1-b 51 (51%), us-east1-c 49 (49%)');
    assert.equal(splitLine(new Map([['us-east1-b', 0]])), null);
  });
});
