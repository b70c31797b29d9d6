import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZonelabError } from '../errors.js';
import { readNdjsonFile, type RequestResult, type RunEvent, type RunSetup } from '../records/index.js';
import { rerouteText } from './format.js';
import { computeFailoverMetrics, type FailoverMetrics } from './metrics.js';
import { summarizeTrials } from './trials.js';
import { writeMatrixHtml, writeReport, writeTrialsReport } from './write-report.js';

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
  return (await rerenderRun(dir)).metrics;
}

/** What `zonelab report` found in a folder and wrote again. */
export interface RerenderedFolder {
  kind: 'run' | 'trials' | 'matrix';
  /** The page that stands for the folder (what --pdf prints). */
  html: string;
  /** One line per report written, for the terminal. */
  lines: string[];
}

/**
 * Any folder a run writes, again from its saved records: one run (setup.json), trials
 * (trials.json: every trial, then the spread), or a matrix (matrix.md: every cell, each a
 * run or trials, then matrix.html). A folder that is none of them is one line saying so.
 */
export async function rerenderFolder(dir: string): Promise<RerenderedFolder> {
  if (existsSync(join(dir, 'trials.json'))) return rerenderTrials(dir);
  if (existsSync(join(dir, 'matrix.md'))) {
    const lines: string[] = [];
    const cells = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => join(dir, entry.name)).sort();
    for (const cell of cells) {
      if (existsSync(join(cell, 'trials.json'))) lines.push(...(await rerenderTrials(cell)).lines);
      else if (holdsRun(cell)) lines.push(...(await rerenderAsRun(cell)).lines);
    }
    // The comparison itself is the table written when the matrix ran: its cells' numbers
    // are what the records give again, so it is kept, and its page written from it.
    const html = await writeMatrixHtml(dir, await readFile(join(dir, 'matrix.md'), 'utf8'));
    return { kind: 'matrix', html, lines: [...lines, `matrix: ${html}`] };
  }
  if (holdsRun(dir)) return rerenderAsRun(dir);
  throw new ZonelabError('E_NO_RUN', `${dir} holds no run (setup.json), no trials (trials.json) and no matrix (matrix.md): not a failover report folder`);
}

/** A run's folder: setup.json, or (older runs) summary.json. */
function holdsRun(dir: string): boolean {
  return existsSync(join(dir, 'setup.json')) || existsSync(join(dir, 'summary.json'));
}

async function rerenderAsRun(dir: string): Promise<RerenderedFolder> {
  const { metrics } = await rerenderRun(dir);
  return {
    kind: 'run',
    html: join(dir, 'report.html'),
    lines: [`report: ${join(dir, 'report.md')} (time to reroute ${rerouteText(metrics, null)})`, `        ${join(dir, 'report.html')}`],
  };
}

async function rerenderTrials(dir: string): Promise<RerenderedFolder> {
  const saved = JSON.parse(await readFile(join(dir, 'trials.json'), 'utf8')) as { trials?: { dir: string }[] };
  if (!Array.isArray(saved.trials)) throw new ZonelabError('E_NO_RUN', `${join(dir, 'trials.json')} lists no trials`);
  const runs = [];
  for (const trial of saved.trials) {
    const trialDir = join(dir, trial.dir);
    runs.push({ dir: trialDir, ...(await rerenderRun(trialDir)) });
  }
  await writeTrialsReport(dir, runs, summarizeTrials(runs));
  return { kind: 'trials', html: join(dir, 'report.html'), lines: [`trials: ${join(dir, 'report.md')} (${runs.length} trials)`, `        ${join(dir, 'report.html')}`] };
}

/** One run again: its setup and metrics, and its report files written. */
async function rerenderRun(dir: string): Promise<{ setup: RunSetup; metrics: FailoverMetrics }> {
  const setup = await readSetup(dir);
  const [records, events] = await Promise.all([
    readNdjsonFile<RequestResult>(join(dir, 'results.ndjson')),
    readNdjsonFile<RunEvent>(join(dir, 'events.ndjson')),
  ]);
  const metrics = computeFailoverMetrics(records, events, { zone: setup.faultZone, instances: setup.faultInstances, holdMs: setup.holdMs });
  await writeReport(dir, setup, records, events, metrics);
  return { setup, metrics };
}
