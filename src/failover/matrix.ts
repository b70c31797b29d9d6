import type { ExperimentResult } from './experiment.js';

function s(ms: number | null): string {
  return ms === null ? '—' : (ms / 1000).toFixed(2);
}

/** matrix.md: one row per profile × fault, the key numbers side by side. Pure. */
export function renderMatrixMarkdown(runs: readonly { profile: string; fault: string; dir: string; result: ExperimentResult }[]): string {
  const lines = [
    '# Failover matrix',
    '',
    'Times in seconds. Each row links to its own report.',
    '',
    '| profile | mode | fault | time to reroute | failed requests | error window | longest gap | return from restart | return from ready | LB down after fault | LB up after ready | report |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const { profile, fault, dir, result } of runs) {
    const m = result.metrics;
    lines.push(
      `| ${profile} | ${result.setup.spec?.mode ?? '—'} | ${fault} | ${m.rerouted ? s(m.timeToRerouteMs) : 'not rerouted'} | ${m.errors.count} | ${s(m.errorWindowMs)} | ${s(m.longestGapMs)} | ${m.returned ? s(m.timeToReturnMs) : 'not returned'} | ${m.returned ? s(m.timeToReturnFromReadyMs) : '—'} | ${s(m.lb.downAfterFaultMs)} | ${s(m.lb.upAfterReadyMs)} | [${dir}](${dir}/report.md) |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
