import { finalAttempts, percentile, type RequestResult } from '../records/index.js';

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

function latencyOf(records: readonly RequestResult[]): LatencySummary | null {
  const answered = records.filter((r) => r.status !== null);
  if (answered.length === 0) return null;
  // Exact, from one sorted list: every figure is a latency that happened, so p99 ≤ max.
  const sorted = Float64Array.from(answered, (record) => record.latencyMs).sort();
  const at = (p: number) => Math.round(percentile(sorted, p)! * 1000) / 1000;
  return { p50: at(50), p90: at(90), p99: at(99), max: at(100) };
}

function countErrors(records: readonly RequestResult[]): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const record of records) if (record.error) errors[record.error] = (errors[record.error] ?? 0) + 1;
  return errors;
}

function group(records: readonly RequestResult[], key: (r: RequestResult) => string | null, total: number): GroupSummary[] {
  const groups = new Map<string, RequestResult[]>();
  for (const record of records) {
    const name = record.status === null ? NO_RESPONSE : (key(record) ?? '(none)');
    const members = groups.get(name);
    if (members) members.push(record);
    else groups.set(name, [record]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a === NO_RESPONSE ? 1 : b === NO_RESPONSE ? -1 : a.localeCompare(b)))
    .map(([name, members]) => {
      const status = { '2xx': 0, '3xx': 0, forbidden: 0, '4xx': 0, '5xx': 0 };
      for (const { status: code } of members) {
        if (code === null) continue;
        if (code === 400) status.forbidden++;
        else if (code >= 500) status['5xx']++;
        else if (code >= 400) status['4xx']++;
        else if (code >= 300) status['3xx']++;
        else status['2xx']++;
      }
      return {
        name,
        requests: members.length,
        share: total === 0 ? 0 : Math.round((members.length / total) * 10_000) / 100,
        status,
        errors: countErrors(members),
        latencyMs: latencyOf(members),
      };
    });
}

/** The end-of-run summary: a pure function of the records (the last attempt of each request counts). */
export function summarize(records: readonly RequestResult[], elapsedMs: number): LoadSummary {
  const requests = finalAttempts(records);
  const answered = requests.filter((r) => r.status !== null);
  const elapsedSec = Math.round(elapsedMs) / 1000;
  return {
    requests: requests.length,
    retries: records.length - requests.length,
    answered: answered.length,
    failed: requests.filter((r) => r.status === null || r.status >= 500).length,
    forbidden: answered.filter((r) => r.status === 400).length,
    notFound: answered.filter((r) => r.status === 404).length,
    errors: countErrors(requests),
    elapsedSec,
    achievedRate: elapsedSec > 0 ? Math.round((requests.length / elapsedSec) * 10) / 10 : 0,
    latencyMs: latencyOf(requests),
    byZone: group(requests, (r) => r.zone, requests.length),
    byInstance: group(requests, (r) => r.instance, requests.length),
  };
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
