import { failed, finalAttempts, percentile, type RequestResult } from '../records/index.js';

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface GroupSummary {
  /** Zone or instance name; `(no response)` for requests that ended in an error. */
  name: string;
  requests: number;
  /** Percentage of all requests. */
  share: number;
  status: { '2xx': number; '3xx': number; forbidden: number; '4xx': number; '5xx': number };
  errors: Record<string, number>;
  /** Milliseconds; null when the group has no answered request. */
  latencyMs: LatencySummary | null;
}

export interface LoadSummary {
  requests: number;
  /** Attempts beyond the first (retries). */
  retries: number;
  answered: number;
  /** Requests that failed: an error, or a 5xx. Refusals for export control (400) are not failures. */
  failed: number;
  forbidden: number;
  /** Answers 404 Not Found: a wrong bucket, folder or page range when most are. */
  notFound: number;
  errors: Record<string, number>;
  elapsedSec: number;
  /** Requests per second over the run. */
  achievedRate: number;
  latencyMs: LatencySummary | null;
  byZone: GroupSummary[];
  byInstance: GroupSummary[];
}

const NO_RESPONSE = '(no response)';
/** Names kept apart per table; a target that sends a new zone or instance name with every answer cannot grow the summary past them. */
export const MAX_GROUP_NAMES = 1000;
const OTHER_NAMES = '(other names)';

type StatusClasses = GroupSummary['status'];
const noStatuses = (): StatusClasses => ({ '2xx': 0, '3xx': 0, forbidden: 0, '4xx': 0, '5xx': 0 });

function countStatus(status: StatusClasses, code: number): void {
  if (code === 400) status.forbidden++;
  else if (code >= 500) status['5xx']++;
  else if (code >= 400) status['4xx']++;
  else if (code >= 300) status['3xx']++;
  else status['2xx']++;
}

interface GroupCounts {
  name: string;
  requests: number;
  status: StatusClasses;
  errors: Record<string, number>;
}

/** One table's groups (by zone or by instance): counters per name, and a small index per answered request so its latencies can be picked out at the end. */
class GroupTable {
  readonly groups: GroupCounts[] = [];
  private readonly indexOf = new Map<string, number>();

  index(name: string): number {
    let index = this.indexOf.get(name);
    if (index === undefined) {
      if (this.groups.length >= MAX_GROUP_NAMES && name !== NO_RESPONSE && name !== OTHER_NAMES) return this.index(OTHER_NAMES);
      index = this.groups.length;
      this.groups.push({ name, requests: 0, status: noStatuses(), errors: {} });
      this.indexOf.set(name, index);
    }
    return index;
  }
}

function latencyOf(sorted: Float64Array): LatencySummary | null {
  if (sorted.length === 0) return null;
  const at = (p: number) => Math.round(percentile(sorted, p)! * 1000) / 1000;
  return { p50: at(50), p90: at(90), p99: at(99), max: at(100) };
}

/**
 * The end-of-run summary built as the requests end, so a long run at a high rate keeps
 * counters and 12 bytes per answered request (its latency and its two group indexes), never
 * the records. Percentiles stay exact, from one sorted list: every figure is a latency that
 * happened, so p99 ≤ max.
 */
export class SummaryAccumulator {
  private attempts = 0;
  private requests = 0;
  private failed = 0;
  private forbidden = 0;
  private notFound = 0;
  private readonly errors: Record<string, number> = {};
  private readonly zones = new GroupTable();
  private readonly instances = new GroupTable();
  private latencies = new Float64Array(1024);
  private zoneOf = new Uint16Array(1024);
  private instanceOf = new Uint16Array(1024);
  private answered = 0;

  /** One attempt as it ends; `final` when no retry of the same request follows (only the last attempt of a request counts). */
  add(record: RequestResult, final: boolean): void {
    this.attempts++;
    if (!final) return;
    this.requests++;
    if (failed(record)) this.failed++;
    if (record.error) this.errors[record.error] = (this.errors[record.error] ?? 0) + 1;
    const zone = this.zones.index(record.status === null ? NO_RESPONSE : (record.zone ?? '(none)'));
    const instance = this.instances.index(record.status === null ? NO_RESPONSE : (record.instance ?? '(none)'));
    for (const group of [this.zones.groups[zone]!, this.instances.groups[instance]!]) {
      group.requests++;
      if (record.status !== null) countStatus(group.status, record.status);
      if (record.error) group.errors[record.error] = (group.errors[record.error] ?? 0) + 1;
    }
    if (record.status === null) return;
    if (record.status === 400) this.forbidden++;
    if (record.status === 404) this.notFound++;
    if (this.answered === this.latencies.length) this.grow();
    this.latencies[this.answered] = record.latencyMs;
    this.zoneOf[this.answered] = zone;
    this.instanceOf[this.answered] = instance;
    this.answered++;
  }

  private grow(): void {
    const size = this.latencies.length * 2;
    const grown = <T extends Float64Array | Uint16Array>(from: T, to: T): T => {
      to.set(from);
      return to;
    };
    this.latencies = grown(this.latencies, new Float64Array(size));
    this.zoneOf = grown(this.zoneOf, new Uint16Array(size));
    this.instanceOf = grown(this.instanceOf, new Uint16Array(size));
  }

  /** Each group's latencies sorted, from one pass that places every answer in its group's slice (a counting sort by group). */
  private latenciesByGroup(groups: number, indexes: Uint16Array): Float64Array[] {
    const counts = new Uint32Array(groups + 1);
    for (let i = 0; i < this.answered; i++) counts[indexes[i]! + 1]!++;
    for (let g = 1; g <= groups; g++) counts[g]! += counts[g - 1]!;
    const placed = new Float64Array(this.answered);
    const next = counts.slice(0, groups);
    for (let i = 0; i < this.answered; i++) placed[next[indexes[i]!]!++] = this.latencies[i]!;
    return Array.from({ length: groups }, (_, g) => placed.subarray(counts[g]!, counts[g + 1]!).sort());
  }

  private table(table: GroupTable, indexes: Uint16Array): GroupSummary[] {
    const latencies = this.latenciesByGroup(table.groups.length, indexes);
    return table.groups
      .map(({ name, requests, status, errors }, index) => ({
        name,
        requests,
        share: this.requests === 0 ? 0 : Math.round((requests / this.requests) * 10_000) / 100,
        status,
        errors,
        latencyMs: latencyOf(latencies[index]!),
      }))
      .sort((a, b) => (a.name === NO_RESPONSE ? 1 : b.name === NO_RESPONSE ? -1 : a.name.localeCompare(b.name)));
  }

  summary(elapsedMs: number): LoadSummary {
    const elapsedSec = Math.round(elapsedMs) / 1000;
    return {
      requests: this.requests,
      retries: this.attempts - this.requests,
      answered: this.answered,
      failed: this.failed,
      forbidden: this.forbidden,
      notFound: this.notFound,
      errors: { ...this.errors },
      elapsedSec,
      achievedRate: elapsedSec > 0 ? Math.round((this.requests / elapsedSec) * 10) / 10 : 0,
      latencyMs: latencyOf(this.latencies.slice(0, this.answered).sort()),
      byZone: this.table(this.zones, this.zoneOf),
      byInstance: this.table(this.instances, this.instanceOf),
    };
  }
}

/** The end-of-run summary: a pure function of the records (the last attempt of each request counts). */
export function summarize(records: readonly RequestResult[], elapsedMs: number): LoadSummary {
  const accumulator = new SummaryAccumulator();
  const finals = new Set(finalAttempts(records));
  for (const record of records) accumulator.add(record, finals.has(record));
  return accumulator.summary(elapsedMs);
}

function table(title: string, groups: GroupSummary[]): string[] {
  const header = [title, 'requests', 'share', '2xx', '3xx', '400', '4xx', '5xx', 'errors', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'];
  const rows = groups.map((g) => [
    g.name,
    String(g.requests),
    `${g.share.toFixed(1)}%`,
    String(g.status['2xx']),
    String(g.status['3xx']),
    String(g.status.forbidden),
    String(g.status['4xx']),
    String(g.status['5xx']),
    Object.entries(g.errors).map(([code, n]) => `${code}:${n}`).join(' ') || '0',
    ...(g.latencyMs ? [g.latencyMs.p50, g.latencyMs.p90, g.latencyMs.p99, g.latencyMs.max].map((v) => v.toFixed(1)) : ['-', '-', '-', '-']),
  ]);
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

/** The summary as the text the client prints at the end. */
export function renderSummary(summary: LoadSummary): string {
  const errors = Object.entries(summary.errors).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  const latency = summary.latencyMs
    ? `p50 ${summary.latencyMs.p50} ms, p90 ${summary.latencyMs.p90} ms, p99 ${summary.latencyMs.p99} ms, max ${summary.latencyMs.max} ms`
    : 'no answers';
  return [
    `${summary.requests} requests in ${summary.elapsedSec} s (${summary.achievedRate} req/s), ${summary.answered} answered, ` +
      `${summary.failed} failed, ${summary.forbidden} forbidden (400, not failures), ${summary.retries} retries`,
    `errors: ${errors}`,
    `latency: ${latency}`,
    '',
    ...table('zone', summary.byZone),
    '',
    ...table('instance', summary.byInstance),
  ].join('\n');
}
