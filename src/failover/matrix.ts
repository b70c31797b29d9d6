import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExperimentResult } from './experiment.js';
import type { RunSetup } from '../records/index.js';
import type { ExpectMeasure } from './expect.js';
import { secondsFigure } from './format.js';
import { runBounds } from './run-bounds.js';
import { medianWithInterval, type TrialsSummary } from './trials.js';
import { writeMatrixHtml } from './write-report.js';

export interface MatrixRun {
  /** The load balancer (its driver's name). */
  lb: string;
  profile: string;
  fault: string;
  /** The run's folder, relative to the matrix folder. */
  dir: string;
  result: ExperimentResult;
  /** With trials: their spread (`result` is then the first trial). */
  summary?: TrialsSummary;
}

export interface MatrixOptions {
  /** Load balancers (drivers); one, for a matrix of profiles × faults on one balancer. */
  lbs: readonly string[];
  profiles: readonly string[];
  faults: readonly string[];
  /** The matrix folder: one sub-folder per run, and matrix.md. */
  dir: string;
  /** Runs one experiment (or its trials) into `dir`. */
  run: (lb: string, profile: string, fault: string, dir: string) => Promise<{ result: ExperimentResult; summary?: TrialsSummary }>;
  signal: AbortSignal;
  /** Told before each run: its position, the total and the name. */
  onRun?: (index: number, total: number, name: string) => void;
  onResult?: (run: MatrixRun) => void;
}

/**
 * Every load balancer × profile × fault, one after the other (each on a lab of its own);
 * writes matrix.md. A cell's folder is `<profile>-<fault>`, led by its balancer's name
 * when there are several.
 */
export async function runMatrix(options: MatrixOptions): Promise<{ runs: MatrixRun[]; markdown: string; path: string }> {
  const runs: MatrixRun[] = [];
  const total = options.lbs.length * options.profiles.length * options.faults.length;
  for (const lb of options.lbs) {
    for (const profile of options.profiles) {
      for (const fault of options.faults) {
        if (options.signal.aborted) break;
        const name = `${options.lbs.length > 1 ? `${lb}-` : ''}${profile}-${fault.replace(/[^\w.-]/g, '_')}`;
        options.onRun?.(runs.length + 1, total, `${options.lbs.length > 1 ? `${lb} × ` : ''}${profile} × ${fault}`);
        const { result, summary } = await options.run(lb, profile, fault, join(options.dir, name));
        const run = { lb, profile, fault, dir: name, result, ...(summary ? { summary } : {}) };
        runs.push(run);
        options.onResult?.(run);
      }
    }
  }
  const markdown = renderMatrixMarkdown(runs);
  const path = join(options.dir, 'matrix.md');
  await writeFile(path, markdown);
  await writeMatrixHtml(options.dir, markdown);
  return { runs, markdown, path };
}

/**
 * About how long one run takes, ms: a lab started and stopped, the warm-up, the load
 * balancer's detection bound (or the whole wait when its check cannot see the fault), the
 * hold, the heal, the return bound and the hold again. For estimates only. Pure.
 */
export function estimateRunMs(setup: Pick<RunSetup, 'spec' | 'fault' | 'where' | 'warmupMs' | 'holdMs' | 'maxWaitMs'>): number {
  const bounds = runBounds(setup);
  const detectionMs = bounds?.detection ? bounds.detection.sec * 1000 : setup.maxWaitMs;
  const returnMs = bounds ? bounds.return.sec * 1000 : setup.maxWaitMs;
  return 4000 + setup.warmupMs + detectionMs + setup.holdMs + 1000 + returnMs + setup.holdMs;
}

function s(ms: number | null): string {
  return ms === null ? '—' : secondsFigure(ms);
}

/** matrix.md: one row per load balancer × profile × fault, the key numbers side by side. Pure. */
export function renderMatrixMarkdown(runs: readonly MatrixRun[]): string {
  const lines = [
    '# Failover matrix',
    '',
    'Times in seconds; "bound" is what the spec implies for that load balancer and fault (— when its health check cannot see the fault). With trials, a cell is the median and its 95% interval [low–high], and the error window and gap are the first trial\'s. Each row links to its own report.',
    '',
    '| load balancer | profile | mode | fault | time to reroute | bound | failed requests | error window | longest gap | return from restart | return from ready | LB down after fault | LB up after ready | report |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const { lb, profile, fault, dir, result, summary } of runs) {
    const m = result.metrics;
    const bound = runBounds(result.setup)?.detection;
    // With trials, a cell is the median and its 95% interval.
    const cell = (measure: ExpectMeasure, single: string) => {
      const found = summary?.measures.find((entry) => entry.measure === measure);
      return found ? medianWithInterval(found) : single;
    };
    lines.push(
      `| ${lb} | ${profile} | ${result.setup.spec?.mode ?? '—'} | ${fault} | ${cell('reroute', m.rerouted ? s(m.timeToRerouteMs) : 'not rerouted')} | ${bound ? `≤ ${bound.sec}` : '—'} | ${cell('failed', String(m.errors.count))} | ${s(m.errorWindowMs)} | ${s(m.longestGapMs)} | ${cell('return', m.returned ? s(m.timeToReturnMs) : 'not returned')} | ${cell('return-ready', m.returned ? s(m.timeToReturnFromReadyMs) : '—')} | ${cell('down', s(m.lb.downAfterFaultMs))} | ${cell('up', s(m.lb.upAfterReadyMs))} | [${dir}](${dir}/report.md) |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
