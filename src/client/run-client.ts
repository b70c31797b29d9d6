import { lookup } from 'node:dns/promises';
import { STATUS_CODES } from 'node:http';
import { isIP } from 'node:net';
import { ZonelabError } from '../errors.js';
import { createStatusLine } from '../status-line.js';
import { LiveStatus } from './live-status.js';
import type { RequestResult } from '../records/index.js';
import { createRequestModel } from './request-model.js';
import { openResultsFile, type ResultsFile } from '../records/index.js';
import { type LoadMode, runLoad } from './run-load.js';
import { type LoadSummary, renderSummary, SummaryAccumulator } from './summary.js';

export interface ClientOptions {
  host: string;
  port: number;
  ssl: boolean;
  bucket: string;
  webdir: string;
  index: number;
  seed: number;
  country?: string | undefined;
  requests?: number | undefined;
  durationMs?: number | undefined;
  mode: LoadMode;
  keepalive: boolean;
  timeoutMs: number;
  retries: number;
  follow: boolean;
  verbose: boolean;
  json: boolean;
  out?: string | undefined;
  signal: AbortSignal;
  /** Where verbose lines and the summary go; default standard output. */
  stdout?: NodeJS.WritableStream;
  /** Where the live status goes; default standard error. */
  status?: NodeJS.WriteStream;
}

function clock(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** One verbose line: `08:00:00.123 200 OK zone=us-east1-b instance=zone-b` or `… ERROR ECONNREFUSED`. */
export function verboseLine(record: RequestResult, at: Date): string {
  const retry = record.attempt > 1 ? ` (attempt ${record.attempt})` : '';
  if (record.status === null) return `${clock(at)} ERROR ${record.error}${retry}`;
  return `${clock(at)} ${record.status} ${STATUS_CODES[record.status] ?? ''} zone=${record.zone ?? '-'} instance=${record.instance ?? '-'}${retry}`;
}

/**
 * The client as one call: checks the host, runs the load, writes the records, shows live
 * status, prints the summary. Resolves with the summary and whether it was interrupted.
 */
export async function runClient(options: ClientOptions): Promise<{ summary: LoadSummary; interrupted: boolean }> {
  if (isIP(options.host) === 0) {
    try {
      await lookup(options.host);
    } catch (error) {
      throw new ZonelabError('E_HOST', `cannot resolve host "${options.host}"`, { cause: error });
    }
  }
  const next = createRequestModel({ bucket: options.bucket, webdir: options.webdir, index: options.index, seed: options.seed, country: options.country });
  const stdout = options.stdout ?? process.stdout;
  const statusStream = options.status ?? process.stderr;
  const results: ResultsFile | null = options.out ? await openResultsFile(options.out) : null;
  // Counters and one latency per answer, not the records: memory stays flat over a long run at a high rate.
  const summarizer = new SummaryAccumulator();
  const live = new LiveStatus();
  const started = performance.now();
  // With -v the responses are the output: no line rewritten in place between them.
  const status = createStatusLine(statusStream, { plain: options.verbose });
  const ticker = setInterval(() => status.update(live.line(performance.now() - started)), 250).unref();
  const hostPart = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
  let outcome: Awaited<ReturnType<typeof runLoad>>;
  try {
    outcome = await runLoad({
      origin: `${options.ssl ? 'https' : 'http'}://${hostPart}:${options.port}`,
      next,
      mode: options.mode,
      requests: options.requests,
      durationMs: options.durationMs,
      keepalive: options.keepalive,
      connections: options.mode.kind === 'closed' ? options.mode.concurrency : Math.max(1, Math.ceil(options.mode.rate / 10)),
      timeoutMs: options.timeoutMs,
      retries: options.retries,
      follow: options.follow,
      signal: options.signal,
      onResult: (record, final) => {
        summarizer.add(record, final);
        live.record(record, performance.now() - started);
        results?.write(record);
        if (options.verbose) stdout.write(`${verboseLine(record, new Date())}\n`);
      },
    });
  } finally {
    clearInterval(ticker);
    status.clear();
    await results?.close();
  }
  const summary = summarizer.summary(outcome.elapsedMs);
  stdout.write(options.json ? `${JSON.stringify({ ...summary, unsent: outcome.unsent }, null, 2)}\n` : `${renderSummary(summary)}\n`);
  if (outcome.unsent > 0 && options.mode.kind === 'open') {
    // Said plainly rather than queued without end: the rate asked is beyond this machine (or the target).
    statusStream.write(
      `zonelab: could not keep --rate ${options.mode.rate}: ${outcome.unsent} requests were not sent (this machine or the target could not keep up: the schedule was more than a second behind, or as many as it can need were in flight), ${summary.requests} were, ${summary.achievedRate} requests/s\n`,
    );
  }
  return { summary, interrupted: outcome.interrupted };
}
