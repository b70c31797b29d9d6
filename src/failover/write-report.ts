import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { RequestResult, RunEvent, RunSetup } from '../records/index.js';
import type { FailoverMetrics } from './metrics.js';
import { renderReportHtml } from './report-html.js';
import { renderReportMarkdown } from './report-md.js';
import { renderTimelineSvg } from './timeline.js';
import { renderTrialsMarkdown, renderTrialsSvg, type TrialsSummary } from './trials.js';

/** Writes summary.json, report.md, timeline.svg and report.html (self-contained) of a run into `dir`. */
export async function writeReport(
  dir: string,
  setup: RunSetup,
  records: readonly RequestResult[],
  events: readonly RunEvent[],
  metrics: FailoverMetrics,
): Promise<void> {
  await writeFile(join(dir, 'summary.json'), `${JSON.stringify({ setup, metrics }, null, 2)}\n`);
  const markdown = renderReportMarkdown(setup, metrics, records);
  const svg = await renderTimelineSvg(records, events, metrics);
  await writeFile(join(dir, 'report.md'), markdown);
  await writeFile(join(dir, 'timeline.svg'), svg);
  await writeFile(join(dir, 'report.html'), renderReportHtml(markdown, svg));
}

/** Writes a trials run's own report into `dir`: trials.json, report.md, trials.svg and report.html. */
export async function writeTrialsReport(dir: string, runs: readonly { dir: string; setup: RunSetup; metrics: FailoverMetrics }[], summary: TrialsSummary): Promise<void> {
  await writeFile(join(dir, 'trials.json'), `${JSON.stringify({ summary, trials: runs.map((run) => ({ dir: relative(dir, run.dir), setup: run.setup, metrics: run.metrics })) }, null, 2)}\n`);
  const markdown = renderTrialsMarkdown(runs, summary, (runDir) => relative(dir, runDir));
  const svg = await renderTrialsSvg(summary);
  await writeFile(join(dir, 'report.md'), markdown);
  await writeFile(join(dir, 'trials.svg'), svg);
  await writeFile(join(dir, 'report.html'), renderReportHtml(markdown, svg, 'trials.svg'));
}

/** matrix.html: matrix.md as a page, its links to the cells' pages. Resolves with its path. */
export async function writeMatrixHtml(dir: string, markdown: string): Promise<string> {
  const path = join(dir, 'matrix.html');
  await writeFile(path, renderReportHtml(markdown.replace(/\/report\.md\)/g, '/report.html)'), ''));
  return path;
}
