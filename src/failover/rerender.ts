import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestResult } from '../client/index.js';
import { ZonelabError } from '../errors.js';
import type { ExperimentSetup } from './experiment.js';
import { computeFailoverMetrics, type FailoverMetrics } from './metrics.js';
import type { RunEvent } from './records.js';
import { writeReport } from './write-report.js';

async function readLines<T>(path: string): Promise<T[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ZonelabError('E_NO_RUN', `${path} is missing: not a failover report folder`);
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, index) => {
      try {
        return JSON.parse(line) as T;
      } catch {
        throw new ZonelabError('E_BAD_RECORD', `${path} line ${index + 1} is not JSON`);
      }
    });
}

/** `zonelab report <dir>`: the metrics and the report again, from the saved records alone. */
export async function rerenderReport(dir: string): Promise<FailoverMetrics> {
  const summaryPath = join(dir, 'summary.json');
  let setup: ExperimentSetup;
  try {
    setup = (JSON.parse(await readFile(summaryPath, 'utf8')) as { setup: ExperimentSetup }).setup;
  } catch {
    throw new ZonelabError('E_NO_RUN', `${summaryPath} is missing or unreadable: not a failover report folder`);
  }
  const [records, events] = await Promise.all([
    readLines<RequestResult>(join(dir, 'results.ndjson')),
    readLines<RunEvent>(join(dir, 'events.ndjson')),
  ]);
  const metrics = computeFailoverMetrics(records, events, { zone: setup.faultZone, instances: setup.faultInstances });
  await writeReport(dir, setup, records, events, metrics);
  return metrics;
}
