import { detectionBoundSec, returnBoundSec } from '../lb/index.js';
import type { ExperimentSetup } from './experiment.js';
import type { FailoverMetrics, PhaseRatio } from './metrics.js';

function seconds(ms: number | null, unit = ' s'): string {
  return ms === null ? '—' : `${(ms / 1000).toFixed(2)}${unit}`;
}

function shares(counts: Record<string, number>, total: number): string {
  if (total === 0) return '—';
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ${n} (${((n / total) * 100).toFixed(1)}%)`)
    .join(', ');
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
export function renderReportMarkdown(setup: ExperimentSetup, metrics: FailoverMetrics): string {
  const spec = setup.spec;
  const detection = spec ? `≤ ${detectionBoundSec(spec)} s by health checks` : '—';
  const returning = spec ? `≤ ${returnBoundSec(spec)} s by health checks` : '—';
  const errorKinds = Object.entries(metrics.errors.byKind)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const lines = [
    `# Failover: ${setup.fault === 'command' ? 'fault command' : setup.fault} on ${setup.faultZone}`,
    '',
    `Run started ${setup.startedAt}.`,
    '',
    '## Setup',
    '',
    '| | |',
    '|---|---|',
    `| load balancer | ${setup.where === 'lab' ? `HAProxy (local lab) at ${setup.url}` : setup.url} |`,
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
    `| fault | ${setup.fault === 'command' ? `\`${setup.killCommand}\`, restart \`${setup.restartCommand}\`` : `${setup.fault} (${setup.faultInstances.join(', ')})`} |`,
    `| load | ${setup.rate} requests/s, open loop, ${setup.keepalive ? 'keep-alive connections' : 'a new connection per request'}, timeout ${setup.timeoutMs / 1000} s |`,
    `| phases | warm-up ${setup.warmupMs / 1000} s, hold ${setup.holdMs / 1000} s, give up after ${setup.maxWaitMs / 1000} s |`,
    '',
    '## Results',
    '',
    '| measure | value | bound the spec implies |',
    '|---|---:|---|',
    `| time to reroute (last failed or faulted-zone request after the fault) | ${metrics.rerouted ? seconds(metrics.timeToRerouteMs) : 'not rerouted'} | ${detection} |`,
    `| failed requests | ${metrics.errors.count}${errorKinds ? ` (${errorKinds})` : ''} | |`,
    `| error window (first to last failure) | ${seconds(metrics.errorWindowMs)} | |`,
    `| longest gap between successful responses | ${seconds(metrics.longestGapMs)} | |`,
    `| time to return, from the restart | ${metrics.returned ? seconds(metrics.timeToReturnMs) : 'not returned'} | |`,
    `| time to return, from the server being ready (the load balancer's share) | ${metrics.returned ? seconds(metrics.timeToReturnFromReadyMs) : 'not returned'} | ${returning} |`,
  );
  if (setup.where === 'lab') {
    lines.push(
      `| HAProxy marked the zone DOWN, after the fault | ${seconds(metrics.lb.downAfterFaultMs)} | ${detection} |`,
      `| HAProxy marked the zone UP, after the restart / after ready | ${seconds(metrics.lb.upAfterRestartMs)} / ${seconds(metrics.lb.upAfterReadyMs)} | ${returning} |`,
    );
  }
  lines.push(
    '',
    'Times count on the client\'s clock: a request\'s time is when it was due to be sent (open loop).' +
      (setup.where === 'lab' ? '' : ' The fault counts from when the fault command returned (a remote kill happens at its end, after the connection is made); the server is ready when the restart command returned.'),
    '',
    '## Requests per backend',
    '',
    '| phase | answered | per zone | per instance |',
    '|---|---:|---|---|',
    ...metrics.phases.map(
      (phase) => `| ${PHASE_TITLE[phase.phase]} | ${phase.answered} | ${shares(phase.byZone, phase.answered)} | ${shares(phase.byInstance, phase.answered)} |`,
    ),
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
