import { join } from 'node:path';
import { openNdjsonFile, type RequestResult, type RunEvent } from '../records/index.js';

/** A run's records, kept in memory for the analysis and written to NDJSON as they happen. */
export interface RunRecorder {
  readonly records: RequestResult[];
  readonly events: RunEvent[];
  /** Ms since the run started, on the monotonic clock the load generator also uses. */
  now(): number;
  /** The clock's origin (`performance.now()` at start), for the load generator. */
  readonly epoch: number;
  record(result: RequestResult): void;
  event(event: RunEvent): void;
  close(): Promise<void>;
}

export async function openRunRecorder(dir: string): Promise<RunRecorder> {
  const results = await openNdjsonFile<RequestResult>(join(dir, 'results.ndjson'));
  const eventsFile = await openNdjsonFile<RunEvent>(join(dir, 'events.ndjson'));
  const epoch = performance.now();
  const records: RequestResult[] = [];
  const events: RunEvent[] = [];
  return {
    records,
    events,
    epoch,
    now: () => Math.round((performance.now() - epoch) * 1000) / 1000,
    record: (result) => {
      records.push(result);
      results.write(result);
    },
    event: (event) => {
      events.push(event);
      eventsFile.write(event);
    },
    close: async () => {
      await Promise.all([results.close(), eventsFile.close()]);
    },
  };
}
