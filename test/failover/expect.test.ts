import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateExpect, type FailoverMetrics, parseExpect, verdictJson, verdictJUnit } from '../../src/failover/index.js';

function metrics(rerouteMs: number | null, failed: number, returnMs = 1500): FailoverMetrics {
  return {
    faultAt: 5000, restartAt: 10_000, readyAt: 10_400,
    timeToRerouteMs: rerouteMs, rerouted: rerouteMs !== null,
    errors: { count: failed, byKind: failed ? { ECONNRESET: failed } : {} },
    recurringFailures: null,
    errorWindowMs: null, longestGapMs: 40,
    timeToReturnMs: returnMs, timeToReturnFromReadyMs: returnMs - 400, returned: true,
    lb: { downAfterFaultMs: rerouteMs === null ? null : rerouteMs + 50, upAfterRestartMs: null, upAfterReadyMs: 1200 },
    phases: [], zones: [], interrupted: false, interruptedAt: null, loadBehindMs: null,
  };
}

describe('--expect: rules in k6-threshold style', () => {
  it('reads measures, operators, units and aggregates over trials', () => {
    assert.deepEqual(parseExpect('reroute<=3s, failed<=0, return < 2500ms, p90(reroute)<=4, max( down ) >= 0.5s'), [
      { text: 'reroute<=3s', aggregate: null, measure: 'reroute', operator: '<=', value: 3 },
      { text: 'failed<=0', aggregate: null, measure: 'failed', operator: '<=', value: 0 },
      { text: 'return < 2500ms', aggregate: null, measure: 'return', operator: '<', value: 2.5 },
      { text: 'p90(reroute)<=4', aggregate: 'p90', measure: 'reroute', operator: '<=', value: 4 },
      { text: 'max( down ) >= 0.5s', aggregate: 'max', measure: 'down', operator: '>=', value: 0.5 },
    ]);
  });

  for (const [text, message] of [
    ['', /--expect is empty/],
    ['reroute<=3s,,failed<=0', /--expect rule 2 "": empty \(two commas in a row\?\)/],
    ['retrun<=3s', /--expect rule 1 "retrun<=3s": unknown measure "retrun" \(did you mean return\?\)/],
    ['reroute=3s', /--expect rule 1 "reroute=3s": expected <measure> <op> <value>/],
    ['reroute<=3h', /unknown unit "h" \(s or ms\)/],
    ['failed<=2s', /failed is a count: no unit \("s"\)/],
    ['p95(reroute)<=3s', /unknown aggregate "p95" \(median, min, max or p90\)/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)} with one line that points at the rule`, () => {
      assert.throws(() => parseExpect(text), (error: Error) => message.test(error.message) && !error.message.includes('\n'));
    });
  }

  it('holds one run, or the median of trials (or the named aggregate), to each rule', () => {
    const one = evaluateExpect(parseExpect('reroute<=3s, failed<=0'), [metrics(1400, 72)]);
    assert.deepEqual(one.map((r) => [r.pass, r.line]), [
      [true, 'reroute<=3s: ok, reroute = 1.4 s (wanted <= 3 s)'],
      [false, 'failed<=0: FAILED, failed = 72 (wanted <= 0)'],
    ]);
    const trials = [metrics(1000, 0), metrics(1900, 0), metrics(1200, 0), metrics(2100, 0), metrics(1300, 0)];
    const results = evaluateExpect(parseExpect('reroute<=1.5s, p90(reroute)<=2s, max(failed)==0'), trials);
    assert.deepEqual(results.map((r) => [r.pass, r.value]), [[true, 1.3], [false, 2.1], [true, 0]]);
    const missing = evaluateExpect(parseExpect('reroute<=60s'), [metrics(1000, 0), metrics(null, 400)]);
    assert.equal(missing[0]!.line, 'reroute<=60s: FAILED, 1 of 2 trials not rerouted');
  });

  it('writes the verdict as JSON and as JUnit XML', () => {
    const results = evaluateExpect(parseExpect('reroute<=3s, failed<=0'), [metrics(1400, 72)]);
    const json = JSON.parse(verdictJson(results, { command: 'zonelab failover --expect …', runs: 1 }));
    assert.equal(json.pass, false);
    assert.deepEqual(json.rules.map((rule: { rule: string; pass: boolean }) => [rule.rule, rule.pass]), [['reroute<=3s', true], ['failed<=0', false]]);
    const junit = verdictJUnit(results, 'zonelab failover fast kill');
    assert.match(junit, /<testsuite name="zonelab failover fast kill" tests="2" failures="1">/);
    assert.match(junit, /<testcase classname="zonelab failover fast kill" name="failed&#60;=0">\n {6}<failure message="failed&#60;=0: FAILED, failed = 72 \(wanted &#60;= 0\)"\/>/);
  });
});
