import { lbName } from '../lb/index.js';
import { describeFault, parseFault, type RequestResult, type RunSetup } from '../records/index.js';
import type { FailoverMetrics, PhaseRatio, ZonePhaseStats } from './metrics.js';
import { errorKindsText, rerouteText, returnText, secondsText } from './format.js';
import { renderAnswers, renderNotes, renderWarnings } from './report-answers.js';
import { renderClientLines, renderSetupPicture } from './report-setup.js';
import { runBounds } from './run-bounds.js';


function shares(counts: Record<string, number>, total: number): string {
  if (total === 0) return '—';
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ${n} (${((n / total) * 100).toFixed(1)}%)`)
    .join(', ');
}

function zoneRow(stats: ZonePhaseStats): string {
  const rate = stats.requests === 0 ? '' : ` (${((stats.failed / stats.requests) * 100).toFixed(1)}%)`;
  const ms = (value: number | null) => (value === null ? '—' : `${value.toFixed(1)} ms`);
  return `| ${PHASE_TITLE[stats.phase]} | ${stats.zone} | ${stats.requests} | ${stats.failed}${rate} | ${ms(stats.p50Ms)} | ${ms(stats.p99Ms)} |`;
}

const PHASE_TITLE: Record<PhaseRatio['phase'], string> = {
  before: 'before the fault',
  outage: 'during the outage',
  after: 'after the return',
};

/**
 * report.md: the setup, the measured times next to the bounds the spec implies, the
 * per-phase ratio per zone and per instance, the timeline, and the command that reproduces
 * the run. Pure: the same inputs give the same text.
 */
export function renderReportMarkdown(setup: RunSetup, metrics: FailoverMetrics, records: readonly RequestResult[] = []): string {
  const spec = setup.spec;
  const bounds = runBounds(setup);
  const detection = !bounds
    ? '—'
    : bounds.detection
      ? `≤ ${bounds.detection.sec} s`
      : bounds.lb === 'nginx'
        ? 'none: nginx has no health check, only failed traffic takes a backend out'
        : bounds.view === 'alternates'
          ? 'none: the health check alternates'
          : 'none: the health check still passes';
  const returning = bounds ? `≤ ${bounds.return.sec} s` : '—';
  const reroute = rerouteText(metrics, bounds);
  const errorKinds = errorKindsText(metrics.errors.byKind);
  const lines = [
    `# Failover: ${setup.fault === 'command' ? 'fault command' : setup.fault} on ${setup.faultZone}`,
    '',
    `Run started ${setup.startedAt}.`,
    '',
    ...renderWarnings(setup, metrics, bounds).map((warning) => `> **Warning:** ${warning}\n`),
    '## Answers',
    '',
    ...renderAnswers(setup, metrics, bounds),
    '',
    ...renderNotes(metrics).map((note) => `> **Note:** ${note}\n`),
    '## Setup',
    '',
    ...renderSetupPicture(setup),
    '',
    '| | |',
    '|---|---|',
    `| load balancer | ${setup.where === 'lab' ? `${lbName(setup.lb?.kind)} (local lab) at ${setup.url}${setup.lb ? `: ${setup.lb.summary}` : ''}` : setup.url} |`,
    ...(setup.lb && Object.keys(setup.lb.settings).length > 0 ? [`| its settings | ${Object.entries(setup.lb.settings).map(([name, value]) => `${name} ${value}`).join(', ')} |`] : []),
    ...(setup.lb?.limitations.length ? [`| what it cannot do of the spec | ${setup.lb.limitations.map((limit) => `${limit.field}: ${limit.says}`).join('; ')} |`] : []),
  ];
  if (setup.where === 'lab') {
    lines.push(`| zones | ${setup.zones.join(', ')} (${setup.instancesPerZone} instance${setup.instancesPerZone === 1 ? '' : 's'} each) |`);
  }
  if (spec) {
    lines.push(
      `| profile | ${spec.profile}, mode ${spec.mode}, balance ${spec.balance} |`,
      `| health check | GET ${spec.requestPath} every ${spec.checkIntervalSec} s, timeout ${spec.timeoutSec} s, healthy after ${spec.healthyThreshold}, unhealthy after ${spec.unhealthyThreshold} |`,
      `| retries / redispatch / observe errors | ${spec.retries} / ${spec.redispatch ? 'yes' : 'no'} / ${spec.observeErrors ? 'yes' : 'no'} |`,
    );
  }
  lines.push(
    `| fault | ${setup.fault === 'command' ? `\`${setup.killCommand}\`, restart \`${setup.restartCommand}\`` : `${setup.fault}: ${describeFault(parseFault(setup.fault))} (${setup.faultInstances.join(', ')})`} |`,
    `| load | ${setup.rate} requests/s, open loop, ${setup.keepalive ? 'keep-alive connections' : 'a new connection per request'}, timeout ${setup.timeoutMs / 1000} s |`,
    `| phases | warm-up ${setup.warmupMs / 1000} s, hold ${setup.holdMs / 1000} s, give up after ${setup.maxWaitMs / 1000} s |`,
    ...(setup.versions
      ? [`| versions | zonelab ${setup.versions.zonelab}, Node.js ${setup.versions.node}${programVersion(setup.versions)} |`]
      : []),
    '',
    '## Results',
    '',
    '| measure | value | bound the spec implies |',
    '|---|---:|---|',
    `| time to reroute (last failed or faulted-zone request after the fault) | ${reroute} | ${detection} |`,
    `| failed requests | ${metrics.errors.count}${errorKinds ? ` (${errorKinds})` : ''} | |`,
    `| error window (first to last failure) | ${secondsText(metrics.errorWindowMs)} | |`,
    `| longest gap between successful responses | ${secondsText(metrics.longestGapMs)} | |`,
    `| time to return, from the restart | ${returnText(metrics, 'restart')} | |`,
    `| time to return, from the server being ready (the load balancer's share) | ${returnText(metrics, 'ready')} | ${returning} |`,
  );
  // A balancer without a view of its own (nginx) has no DOWN or UP to report.
  if (setup.where === 'lab' && setup.lb?.kind !== 'nginx') {
    lines.push(
      `| ${lbName(setup.lb?.kind)} marked the zone DOWN, after the fault | ${secondsText(metrics.lb.downAfterFaultMs)} | ${detection} |`,
      `| ${lbName(setup.lb?.kind)} marked the zone UP, after the restart / after ready | ${secondsText(metrics.lb.upAfterRestartMs)} / ${secondsText(metrics.lb.upAfterReadyMs)} | ${returning} |`,
    );
  }
  if (bounds) {
    lines.push(
      '',
      'How the bounds are computed:',
      '',
      `- ${formulaItem('marking the zone down', bounds.detection ? bounds.detection.formula : `no bound (${detection.replace(/^none: /, '')})`)};`,
      `- ${formulaItem('marking it up again once it answers', bounds.return.formula)}.`,
    );
    if (bounds.lb === 'gcp') {
      lines.push(
        (bounds.model.applyDelaySec ?? 0) > 0
          ? `These are a model of Google Cloud's documented probing; the ${bounds.model.applyDelaySec} s for applying a verdict is an allowance, not a documented figure (--apply-delay), so a time beyond a bound is an observation to explain.`
          : 'These are a model of Google Cloud\'s documented probing, with no allowance for the time Google takes to apply a verdict (--apply-delay 0), which it does not document.',
      );
    }
  }
  lines.push(
    '',
    'Times count on the client\'s clock: a request\'s time is when it was due to be sent (open loop).' +
      (setup.where === 'lab' ? '' : ' The fault counts from when the fault command returned (a remote kill happens at its end, after the connection is made); the server is ready when the restart command returned.'),
    '',
    '## Requests per backend',
    '',
    '| phase | answered | failed | per zone | per instance |',
    '|---|---:|---:|---|---|',
    ...metrics.phases.map(
      (phase) =>
        `| ${PHASE_TITLE[phase.phase]} | ${phase.answered} | ${phase.failed} | ${shares(phase.byZone, phase.answered)} | ${shares(phase.byInstance, phase.answered)} |`,
    ),
    '',
    ...(records.length > 0
      ? [
          '## What the client saw',
          '',
          'Lines as `zonelab client -v` prints them (time, status, the zone and instance that answered), around the fault and the return:',
          '',
          ...renderClientLines(setup, records, metrics.faultAt, metrics.restartAt !== null && metrics.timeToReturnMs !== null ? metrics.restartAt + metrics.timeToReturnMs : null),
          '',
        ]
      : []),
    '## Failures and latency per zone',
    '',
    '| phase | zone | requests | failed | p50 | p99 |',
    '|---|---|---:|---:|---:|---:|',
    ...metrics.zones.map(zoneRow),
    '',
    '## Timeline',
    '',
    '![Requests per 100 ms by zone, failures, and the fault, restart, ready and load-balancer marks](timeline.svg)',
    '',
    '## Reproduce',
    '',
    '```sh',
    setup.command,
    '```',
    '',
  );
  return lines.join('\n');
}

/** The load balancer's program and version as the versions row shows them ('' with none). Pure. */
function programVersion(versions: NonNullable<RunSetup['versions']>): string {
  if (versions.lb) return `, ${versions.lb.program} ${versions.lb.version ?? '(version unknown)'}`;
  return versions.haproxy ? `, HAProxy ${versions.haproxy}` : '';
}

/** `marking the zone down (HAProxy, checks that fail at once): unhealthy 3 × interval 1 s + 0.2 s`: who and when in the label, the sum after it. */
function formulaItem(label: string, formula: string): string {
  const colon = formula.indexOf(': ');
  return colon < 0 ? `${label}: ${formula}` : `${label} (${formula.slice(0, colon)}): ${formula.slice(colon + 2)}`;
}
