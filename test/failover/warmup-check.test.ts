import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestResult } from '../../src/records/index.js';
import { WarmupTally } from '../../src/failover/warmup-check.js';

const asked = { url: 'http://127.0.0.1:8080', paths: '/b/w/0.html … /b/w/9.html', pathFlags: '--webdir and --index' };

function answer(seq: number, fields: Partial<RequestResult>): RequestResult {
  return { seq, sentAt: seq * 10, latencyMs: 1, status: 200, zone: 'us-east1-b', instance: 'vm-b', error: null, connection: 'new', attempt: 1, ...fields };
}

function judge(records: RequestResult[]) {
  const tally = new WarmupTally('us-east1-b');
  for (const record of records) tally.add(record);
  return tally.problem(asked);
}

describe('the warm-up check (pure, from counts taken as the answers come)', () => {
  it('passes answers with zones, mostly successes, from the zone to fault (refusals are successes)', () => {
    assert.equal(judge([answer(0, {}), answer(1, { status: 400, zone: 'us-east1-c' }), answer(2, { status: 404 })]), null);
  });

  it('names what came back when nothing answered, with its own code', () => {
    assert.deepEqual(judge([answer(0, { status: null, zone: null, error: 'ECONNREFUSED' }), answer(1, { status: null, zone: null, error: 'ECONNREFUSED' })]), {
      code: 'E_TARGET_SILENT',
      message: 'http://127.0.0.1:8080 answered none of the 2 requests of the warm-up (ECONNREFUSED ×2): nothing to measure, no report written',
    });
  });

  it('tells missing pages from server errors when most answers fail', () => {
    const missing = judge([answer(0, { status: 404 }), answer(1, { status: 404 }), answer(2, {})]);
    assert.equal(missing?.code, 'E_WARMUP_UNFIT');
    assert.match(missing!.message, /^only 1 of the 3 answers of the warm-up were successes \(statuses: 404 ×2, 200 ×1\) for \/b\/w\/0\.html … \/b\/w\/9\.html: check --webdir and --index/);
    const broken = judge([answer(0, { status: 503 }), answer(1, { status: 500 }), answer(2, {})]);
    assert.match(broken!.message, /the servers answer errors, not missing pages/);
  });

  it('refuses answers without a zone, and a zone to fault that never answered', () => {
    assert.match(judge([answer(0, { zone: null })])!.message, /^none of the 1 answers of the warm-up from http:\/\/127\.0\.0\.1:8080 carried an X-Zone header/);
    assert.match(judge([answer(0, { zone: 'us-east1-c' })])!.message, /^--fault-zone us-east1-b never answered during the warm-up; the zones that did: us-east1-c \(1 answers\) \(only 1 answers/);
  });

  it('keeps a bounded count of zone names, and still finds the zone to fault among many', () => {
    const records = Array.from({ length: 5000 }, (_, seq) => answer(seq, { zone: `zone-${seq}` }));
    records.push(answer(5000, {}));
    assert.equal(judge(records), null);
  });
});
