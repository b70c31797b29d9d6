import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZonelabError } from '../errors.js';
import { readNdjsonFile, type RequestResult, type RunEvent, type RunSetup } from '../records/index.js';
import { computeFailoverMetrics, type FailoverMetrics } from './metrics.js';
import { writeReport } from './write-report.js';

/** The setup of a saved run: setup.json (written when the run started), else summary.json's copy. */
async function readSetup(dir: string): Promise<RunSetup> {
  try {
    return JSON.parse(await readFile(join(dir, 'setup.json'), 'utf8')) as RunSetup;
  } catch {
    // Older runs kept it in summary.json only.
  }
  const summaryPath = join(dir, 'summary.json');
  try {
    return (JSON.parse(await readFile(summaryPath, 'utf8')) as { setup: RunSetup }).setup;
  } catch {
    throw new ZonelabError('E_NO_RUN', `${join(dir, 'setup.json')} is missing or unreadable: not a failover report folder`);
  }
}

/** `zonelab report <dir>`: the metrics and the report again, from the saved records alone. */
export async function rerenderReport(dir: string): Promise<FailoverMetrics> {
  const setup = await readSetup(dir);
  const [records, events] = await Promise.all([
    readNdjsonFile<RequestResult>(join(dir, 'results.ndjson')),
    readNdjsonFile<RunEvent>(join(dir, 'events.ndjson')),
  ]);
  const metrics = computeFailoverMetrics(records, events, { zone: setup.faultZone, instances: setup.faultInstances, holdMs: setup.holdMs });
  await writeReport(dir, setup, records, events, metrics);
  return metrics;
}
