import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { ZonelabError } from '../errors.js';
import type { RequestResult } from './request-result.js';

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

/** One record a line, each line complete JSON. */
export function encodeNdjson<T>(records: readonly T[]): string {
  return records.map((record) => `${JSON.stringify(record)}\n`).join('');
}

/** The records of an NDJSON text; `source` names it in the error for a line that is not JSON. */
export function decodeNdjson<T>(text: string, source: string): T[] {
  const records: T[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as T);
    } catch {
      throw new ZonelabError('E_BAD_RECORD', `${source} line ${index + 1} is not JSON`);
    }
  }
  return records;
}

/** Reads an NDJSON file; a missing file is `E_NO_RUN` (what a reader of a run folder expects). */
export async function readNdjsonFile<T>(path: string): Promise<T[]> {
  // Line by line: a long run at a high rate writes more than one string can hold.
  const stream = createReadStream(path, { encoding: 'utf8' });
  try {
    await once(stream, 'open');
  } catch {
    throw new ZonelabError('E_NO_RUN', `${path} is missing: not a failover report folder`);
  }
  const records: T[] = [];
  let lineNumber = 0;
  for await (const line of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    lineNumber++;
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as T);
    } catch {
      stream.destroy();
      throw new ZonelabError('E_BAD_RECORD', `${path} line ${lineNumber} is not JSON`);
    }
  }
  return records;
}
