import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_GROUP_NAMES, type RequestResult, renderSummary, SummaryAccumulator, summarize } from '../../src/client/index.js';

function result(seq: number, fields: Partial<RequestResult>): RequestResult {
  return { seq, sentAt: seq * 10, latencyMs: 10, status: 200, zone: 'zone-a', instance: 'vm-a', error: null, connection: 'new', attempt: 1, ...fields };
}

// 10 requests: 6 answered by zone-a (one 400, one 503), 3 by zone-b, and one that was
// refused twice and then timed out on its third attempt, so it has no response at all.
const fixture: RequestResult[] = [
  result(0, { latencyMs: 1 }),
  result(1, { latencyMs: 2 }),
  result(2, { latencyMs: 3 }),
  result(3, { latencyMs: 4, status: 400 }),
  result(4, { latencyMs: 5, status: 503 }),
  result(5, { latencyMs: 6 }),
  result(6, { latencyMs: 7, zone: 'zone-b', instance: 'vm-b' }),
  result(7, { latencyMs: 8, zone: 'zone-b', instance: 'vm-b' }),
  result(8, { latencyMs: 100, zone: 'zone-b', instance: 'vm-b' }),
  result(9, { status: null, zone: null, instance: null, error: 'ECONNREFUSED', attempt: 1 }),
  result(9, { status: null, zone: null, instance: null, error: 'ECONNREFUSED', attempt: 2 }),
  result(9, { status: null, zone: null, instance: null, error: 'TIMEOUT', attempt: 3 }),
];

describe('summary', () => {
  const summary = summarize(fixture, 2000);

  it('counts each request once, by its last attempt', () => {
    assert.equal(summary.requests, 10);
    assert.equal(summary.retries, 2);
    assert.equal(summary.answered, 9);
    assert.deepEqual(summary.errors, { TIMEOUT: 1 });
    assert.equal(summary.achievedRate, 5);
  });

  it('counts 400 apart and never as a failure; errors and 5xx are failures', () => {
    assert.equal(summary.forbidden, 1);
    assert.equal(summary.failed, 2);
  });

  it('splits by zone with shares, status classes and latency', () => {
    const [a, b, none] = summary.byZone;
    assert.deepEqual(
      [a!.name, a!.requests, a!.share, a!.status],
      ['zone-a', 6, 60, { '2xx': 4, '3xx': 0, forbidden: 1, '4xx': 0, '5xx': 1 }],
    );
    assert.deepEqual([b!.name, b!.requests, b!.share], ['zone-b', 3, 30]);
    assert.deepEqual([none!.name, none!.requests, none!.errors, none!.latencyMs], ['(no response)', 1, { TIMEOUT: 1 }, null]);
    assert.equal(b!.latencyMs!.max, 100);
    assert.equal(a!.latencyMs!.p50, 3);
    assert.equal(summary.byInstance.map((g) => g.name).join(','), 'vm-a,vm-b,(no response)');
  });

  it('renders a table per zone and per instance', () => {
    const text = renderSummary(summary);
    assert.match(text, /^10 requests in 2 s \(5 req\/s\), 9 answered, 2 failed, 1 forbidden/);
    assert.match(text, /\nzone +requests +share +2xx +3xx +400 +4xx +5xx +errors/);
    assert.match(text, /\nzone-a +6 +60\.0% +4 +0 +1 +0 +1 +0 /);
    assert.match(text, /\n\(no response\) +1 +10\.0% .* TIMEOUT:1 /);
    assert.match(text, /\ninstance +requests/);
  });

  it('takes percentiles and the maximum from the same latencies: p99 is never above max', () => {
    // 46.611 was the maximum a histogram once reported under a p99 of 46.623.
    const latencies = [...Array.from({ length: 98 }, (_, i) => 1 + i / 100), 46.605, 46.611];
    const { latencyMs } = summarize(latencies.map((latencyMs, seq) => result(seq, { latencyMs })), 1000);
    assert.deepEqual(latencyMs, { p50: 1.49, p90: 1.89, p99: 46.605, max: 46.611 });
  });

  it('as the requests end: the same summary from attempts told whether they are final, with no records kept', () => {
    const accumulator = new SummaryAccumulator();
    for (const record of fixture) accumulator.add(record, !(record.seq === 9 && record.attempt < 3));
    assert.deepEqual(accumulator.summary(2000), summary);
  });

  it('keeps at most a fixed number of names per table: a target that names a new zone in every answer is summed under one row', () => {
    const accumulator = new SummaryAccumulator();
    for (let seq = 0; seq < MAX_GROUP_NAMES + 500; seq++) accumulator.add(result(seq, { zone: `zone-${seq}`, latencyMs: seq }), true);
    accumulator.add(result(MAX_GROUP_NAMES + 500, { status: null, zone: null, instance: null, error: 'TIMEOUT' }), true);
    const { byZone } = accumulator.summary(1000);
    assert.equal(byZone.length, MAX_GROUP_NAMES + 2);
    const other = byZone.find((group) => group.name === '(other names)')!;
    assert.deepEqual([other.requests, other.latencyMs!.p50, other.latencyMs!.max], [500, MAX_GROUP_NAMES + 249, MAX_GROUP_NAMES + 499]);
    assert.equal(byZone.at(-1)!.name, '(no response)');
  });

  it('copes with no records at all', () => {
    const empty = summarize([], 0);
    assert.equal(empty.requests, 0);
    assert.equal(empty.latencyMs, null);
    assert.match(renderSummary(empty), /^0 requests/);
  });
});
