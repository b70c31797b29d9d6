import { ZonelabError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import type { FailoverMetrics } from './metrics.js';
import { median } from './stats.js';
import { percentile } from '../records/index.js';

/** What `--expect` can hold a run to. Times in seconds, `failed` a count. */
export const EXPECT_MEASURES = {
  reroute: 'time to reroute',
  return: 'time to return, from the restart',
  'return-ready': 'time to return, from the server being ready',
  down: "the load balancer's DOWN after the fault",
  up: "the load balancer's UP after ready",
  gap: 'longest gap between two answers',
  failed: 'failed requests',
} as const;

export type ExpectMeasure = keyof typeof EXPECT_MEASURES;
export type ExpectAggregate = 'median' | 'min' | 'max' | 'p90';
export type ExpectOperator = '<=' | '<' | '>=' | '>' | '==';

export interface ExpectRule {
  /** The rule as written. */
  text: string;
  /** Over trials; null: the median (or the one run's value). */
  aggregate: ExpectAggregate | null;
  measure: ExpectMeasure;
  operator: ExpectOperator;
  /** Seconds for times, a count for `failed`. */
  value: number;
}

const MEASURES = Object.keys(EXPECT_MEASURES) as ExpectMeasure[];
const AGGREGATES: readonly string[] = ['median', 'min', 'max', 'p90'];
const RULE = /^(?:(median|min|max|p90)\(\s*([a-z-]+)\s*\)|([a-z-]+))\s*(<=|>=|==|<|>)\s*(\d+(?:\.\d+)?)\s*([a-z]*)$/;

function bad(rule: string, index: number, why: string): ZonelabError {
  return new ZonelabError('E_BAD_EXPECT', `--expect rule ${index + 1} "${rule}": ${why}`);
}

function unknownMeasure(rule: string, index: number, measure: string): ZonelabError {
  return bad(rule, index, `unknown measure "${measure}"${didYouMean(measure, MEASURES)}; measures: ${MEASURES.join(', ')}`);
}

/**
 * `reroute<=3s, failed<=0, p90(return)<2500ms` → rules. Measures: the keys of
 * `EXPECT_MEASURES`; aggregates over trials: median (the default), min, max, p90; times take
 * `s` or `ms` (a bare number is seconds), `failed` a bare count. A malformed rule throws
 * one line naming it and what is wrong (E_BAD_EXPECT). Pure.
 */
export function parseExpect(text: string): ExpectRule[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.every((part) => part === '')) throw new ZonelabError('E_BAD_EXPECT', '--expect is empty: give rules such as "reroute<=3s, failed<=0"');
  return parts.map((part, index) => {
    if (part === '') throw bad(part, index, 'empty (two commas in a row?)');
    const match = RULE.exec(part);
    if (!match) {
      const call = /^([a-z0-9-]+)\s*\(/.exec(part)?.[1];
      if (call && !AGGREGATES.includes(call)) throw bad(part, index, `unknown aggregate "${call}" (median, min, max or p90)`);
      const measure = /^[a-z-]+/.exec(part)?.[0];
      if (measure && !MEASURES.includes(measure as ExpectMeasure) && !AGGREGATES.includes(measure)) throw unknownMeasure(part, index, measure);
      throw bad(part, index, 'expected <measure> <op> <value>, such as reroute<=3s or p90(failed)<=5 (op: <=, <, >=, >, ==)');
    }
    const [, aggregate, inner, bare, operator, number, unit] = match;
    const measure = (inner ?? bare)! as ExpectMeasure;
    if (!MEASURES.includes(measure)) throw unknownMeasure(part, index, measure);
    let value = Number(number);
    if (measure === 'failed') {
      if (unit) throw bad(part, index, `failed is a count: no unit ("${unit}")`);
    } else if (unit === 'ms') {
      value /= 1000;
    } else if (unit !== 's' && unit !== '') {
      throw bad(part, index, `unknown unit "${unit}" (s or ms)`);
    }
    return { text: part, aggregate: (aggregate as ExpectAggregate | undefined) ?? null, measure, operator: operator as ExpectOperator, value };
  });
}

/** One measure of one run: seconds (or a count); null when there is none (not rerouted, …). Pure. */
export function measureOf(metrics: FailoverMetrics, measure: ExpectMeasure): number | null {
  const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
  switch (measure) {
    case 'reroute':
      return metrics.rerouted ? seconds(metrics.timeToRerouteMs) : null;
    case 'return':
      return metrics.returned ? seconds(metrics.timeToReturnMs) : null;
    case 'return-ready':
      return metrics.returned ? seconds(metrics.timeToReturnFromReadyMs) : null;
    case 'down':
      return seconds(metrics.lb.downAfterFaultMs);
    case 'up':
      return seconds(metrics.lb.upAfterReadyMs);
    case 'gap':
      return seconds(metrics.longestGapMs);
    case 'failed':
      return metrics.errors.count;
  }
}

export interface RuleResult {
  rule: ExpectRule;
  /** The value held against the rule; null when some run had none. */
  value: number | null;
  pass: boolean;
  /** One line: what was measured against what. */
  line: string;
}

function holds(value: number, operator: ExpectOperator, limit: number): boolean {
  switch (operator) {
    case '<=':
      return value <= limit + 1e-9;
    case '<':
      return value < limit;
    case '>=':
      return value >= limit - 1e-9;
    case '>':
      return value > limit;
    case '==':
      return Math.abs(value - limit) < 1e-9;
  }
}

const NONE: Partial<Record<ExpectMeasure, string>> = { reroute: 'not rerouted', return: 'not returned', 'return-ready': 'not returned', down: 'the load balancer never marked it down', up: 'the load balancer never marked it up' };

/** Each rule against the runs' metrics (one run, or the trials: aggregated as the rule says). Pure. */
export function evaluateExpect(rules: readonly ExpectRule[], runs: readonly FailoverMetrics[]): RuleResult[] {
  return rules.map((rule) => {
    const values = runs.map((metrics) => measureOf(metrics, rule.measure));
    const missing = values.filter((value) => value === null).length;
    const name = rule.aggregate ? `${rule.aggregate}(${rule.measure})` : runs.length > 1 ? `median(${rule.measure})` : rule.measure;
    const limit = `${rule.operator} ${rule.measure === 'failed' ? rule.value : `${rule.value} s`}`;
    if (values.length === 0 || missing > 0) {
      const why = NONE[rule.measure] ?? 'no value';
      return { rule, value: null, pass: false, line: `${rule.text}: FAILED, ${runs.length > 1 ? `${missing} of ${runs.length} trials ${why}` : why}` };
    }
    const sorted = (values as number[]).sort((a, b) => a - b);
    const aggregate = rule.aggregate ?? 'median';
    const value = aggregate === 'median' ? median(sorted) : aggregate === 'min' ? sorted[0]! : aggregate === 'max' ? sorted.at(-1)! : percentile(sorted, 90)!;
    const shown = rule.measure === 'failed' ? String(value) : `${Number(value.toFixed(3))} s`;
    const pass = holds(value, rule.operator, rule.value);
    return { rule, value, pass, line: `${rule.text}: ${pass ? 'ok' : 'FAILED'}, ${name} = ${shown} (wanted ${limit})` };
  });
}

/** verdict.json. Pure. */
export function verdictJson(results: readonly RuleResult[], context: { command: string; runs: number }): string {
  return `${JSON.stringify(
    {
      pass: results.every((result) => result.pass),
      command: context.command,
      runs: context.runs,
      rules: results.map((result) => ({ rule: result.rule.text, measure: result.rule.measure, aggregate: result.rule.aggregate, operator: result.rule.operator, limit: result.rule.value, value: result.value, pass: result.pass })),
    },
    null,
    2,
  )}\n`;
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** verdict.xml: one JUnit test case per rule, so CI systems list them. Pure. */
export function verdictJUnit(results: readonly RuleResult[], suite: string): string {
  const failures = results.filter((result) => !result.pass).length;
  const cases = results.map((result) =>
    result.pass
      ? `    <testcase classname="${xml(suite)}" name="${xml(result.rule.text)}"/>`
      : `    <testcase classname="${xml(suite)}" name="${xml(result.rule.text)}">\n      <failure message="${xml(result.line)}"/>\n    </testcase>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites tests="${results.length}" failures="${failures}">\n  <testsuite name="${xml(suite)}" tests="${results.length}" failures="${failures}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}
