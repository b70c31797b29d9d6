import { join } from 'node:path';
import { openNdjsonFile, readNdjsonFile, type RequestResult, type RunEvent } from '../records/index.js';

/**
 * A run's records and events, written to NDJSON as they happen. The events (a few hundred)
 * are kept for the analysis too; the requests are not: a long run at thousands a second
 * would hold them all, so the analysis reads them back from the file once it is closed.
 */
export interface RunRecorder {
  readonly events: RunEvent[];
  /** Ms since the run started, on the monotonic clock the load generator also uses. */
  now(): number;
  /** The clock's origin (`performance.now()` at start), for the load generator. */
  readonly epoch: number;
  record(result: RequestResult): void;
  event(event: RunEvent): void;
  close(): Promise<void>;
  /** The requests, read back from the closed results file. */
  readRecords(): Promise<RequestResult[]>;
}

export async function openRunRecorder(dir: string): Promise<RunRecorder> {
  const resultsPath = join(dir, 'results.ndjson');
  const results = await openNdjsonFile<RequestResult>(resultsPath);
  const eventsFile = await openNdjsonFile<RunEvent>(join(dir, 'events.ndjson'));
  const epoch = performance.now();
  const events: RunEvent[] = [];
  return {
    events,
    epoch,
    now: () => Math.round((performance.now() - epoch) * 1000) / 1000,
    record: (result) => results.write(result),
    event: (event) => {
      events.push(event);
      eventsFile.write(event);
    },
    close: async () => {
      await Promise.all([results.close(), eventsFile.close()]);
    },
    readRecords: () => readNdjsonFile<RequestResult>(resultsPath),
  };
}
