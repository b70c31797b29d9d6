/** One attempt of one request, as written to results.ndjson (see the project's design). */
export interface RequestResult {
  /** Request number, from 0; retries of a request share it. */
  seq: number;
  /** When the attempt was due to start (open loop) or started, ms since the run started (monotonic). */
  sentAt: number;
  /** From `sentAt` to the end of the response (or the error), ms. */
  latencyMs: number;
  status: number | null;
  zone: string | null;
  instance: string | null;
  /** Stable code: ECONNREFUSED, ECONNRESET, TIMEOUT, ENOTFOUND, EHOSTUNREACH, CANCELLED, … or null. */
  error: string | null;
  connection: 'new' | 'reused';
  /** 1 for the first attempt, 2 for the first retry … */
  attempt: number;
}

/**
 * The failure predicate every stage uses: no answer, or a 5xx. A 400 refusal is an
 * answer, not a failure.
 */
export function failed(record: RequestResult): boolean {
  return record.status === null || record.status >= 500;
}

/** The record that stands for a request: its last attempt. */
export function finalAttempts(records: readonly RequestResult[]): RequestResult[] {
  const last = new Map<number, RequestResult>();
  for (const record of records) {
    const seen = last.get(record.seq);
    if (!seen || record.attempt > seen.attempt) last.set(record.seq, record);
  }
  return [...last.values()].sort((a, b) => a.seq - b.seq);
}
