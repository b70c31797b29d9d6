import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isZonelabError } from '../../src/errors.js';
import { describeFault, faultClassOf, formatFault, parseFault } from '../../src/records/index.js';

describe('fault vocabulary', () => {
  it('reads every kind, case-insensitive, with the value forms users type', () => {
    assert.deepEqual(parseFault('KILL'), { kind: 'kill' });
    assert.deepEqual(parseFault(' Partition '), { kind: 'partition' });
    assert.deepEqual(parseFault('latency:500'), { kind: 'latency', ms: 500 });
    assert.deepEqual(parseFault('latency:1.5s'), { kind: 'latency', ms: 1500 });
    assert.deepEqual(parseFault('Latency:250ms'), { kind: 'latency', ms: 250 });
    assert.deepEqual(parseFault('errors:0.5'), { kind: 'errors', fraction: 0.5 });
    assert.deepEqual(parseFault('errors:25%'), { kind: 'errors', fraction: 0.25 });
    assert.deepEqual(parseFault('health-fail'), { kind: 'health-fail' });
    assert.deepEqual(parseFault('flap:2s'), { kind: 'flap', periodMs: 2000 });
  });

  it('formats a fault so that reading it back gives the same fault', () => {
    for (const text of ['kill', 'term', 'stop', 'partition', 'reset', 'latency:500', 'errors:0.25', 'health-fail', 'flap:2s', 'flap:750ms']) {
      assert.equal(formatFault(parseFault(text)), text);
      assert.ok(describeFault(parseFault(text)).length > 10);
    }
    assert.equal(faultClassOf(parseFault('stop')), 'signal');
    assert.equal(faultClassOf(parseFault('reset')), 'network');
    assert.equal(faultClassOf(parseFault('flap:1s')), 'gray');
  });

  const bad: [string, RegExp][] = [
    ['explode', /is not one of kill, term/],
    ['latency', /needs a value: latency:<ms>/],
    ['latency:', /needs a value/],
    ['latency:0', /from 1 ms to 60 s/],
    ['latency:fast', /needs a duration/],
    ['errors:0', /above 0 and at most 1/],
    ['errors:1.5', /above 0 and at most 1/],
    ['errors:half', /above 0 and at most 1/],
    ['flap:50ms', /from 100 ms to 10 min/],
    ['kill:9', /takes no value/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${JSON.stringify(text)} with one line that says why`, () => {
      assert.throws(() => parseFault(text), (error) => isZonelabError(error, 'E_BAD_FAULT') && message.test((error as Error).message) && !(error as Error).message.includes('\n'));
    });
  }
});
