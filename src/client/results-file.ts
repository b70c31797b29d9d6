import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { ZonelabError } from '../errors.js';
import type { RequestResult } from './records.js';

/** An NDJSON file written as things happen: one whole record per write, so every line is valid JSON whenever the run stops. */
export interface NdjsonFile<T> {
  write(record: T): void;
  /** Flushes and closes; the file is complete when this resolves. */
  close(): Promise<void>;
}

export type ResultsFile = NdjsonFile<RequestResult>;

export function openResultsFile(path: string): Promise<ResultsFile> {
  return openNdjsonFile<RequestResult>(path);
}

export async function openNdjsonFile<T>(path: string): Promise<NdjsonFile<T>> {
  const stream: WriteStream = createWriteStream(path, { flags: 'w' });
  try {
    await once(stream, 'open');
  } catch (error) {
    throw new ZonelabError('E_OUT', `cannot write results to ${path}: ${(error as Error).message}`, { cause: error });
  }
  return {
    write: (record) => {
      stream.write(`${JSON.stringify(record)}\n`);
    },
    close: () => new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve()))),
  };
}
