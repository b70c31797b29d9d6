import { parseFault, type RunSetup } from '../records/index.js';
import { errorKindsText, secondsText } from './format.js';
import { assessLag } from './lag-check.js';
import type { FailoverMetrics } from './metrics.js';
import { type RunBounds, runBounds } from './run-bounds.js';


const FAULT_NOUN: Record<string, string> = {
  kill: 'the kill',
  term: 'the SIGTERM',
  stop: 'the freeze (SIGSTOP)',
  partition: 'the partition',
  reset: 'the reset rule',
  latency: 'the added latency',
  errors: 'the injected errors',
  'health-fail': 'its health check started failing',
  flap: 'its health check started flapping',
};

/** What ends each fault, as the answers name it ("After the restart", "After the heal"). */
function healNoun(setup: RunSetup): string {
  if (setup.fault === 'command') return 'the restart';
  const kind = parseFault(setup.fault).kind;
  if (kind === 'kill' || kind === 'term') return 'the restart';
  return kind === 'stop' ? 'the SIGCONT' : 'the heal';
}

function faultNoun(setup: RunSetup): string {
  return setup.fault === 'command' ? 'the fault command' : (FAULT_NOUN[parseFault(setup.fault).kind] ?? 'the fault');
}

function notReroutedBecause(metrics: FailoverMetrics, bounds: RunBounds | null): string {
  const recurring = metrics.recurringFailures;
  if (recurring) return `: the faulted zone failed requests again every ${secondsText(recurring.everyMs)} (${recurring.bursts} times), as the balancer kept trying it with real traffic`;
  return bounds?.view === 'passes' ? ': the health check still passes' : '';
}

/**
 * The assignment's questions answered in sentences: when the load balancer noticed, when
 * traffic was rerouted, how many requests failed, when traffic returned. Pure.
 */
export function renderAnswers(setup: RunSetup, metrics: FailoverMetrics, bounds: RunBounds | null = runBounds(setup)): string[] {
  if (metrics.faultAt === null) return ['- The run ended before the fault: there is nothing to answer.'];
  const zone = setup.faultZone;
  const noun = faultNoun(setup);
  const parts: string[] = [];
  // An interrupted run says what it saw and how long after the fault it stopped; it never
  // says "not rerouted within" a wait that never elapsed, or "never".
  const stoppedAfter = (from: number | null) => (metrics.interruptedAt !== null && from !== null ? secondsText(Math.max(0, metrics.interruptedAt - from)) : null);
  // What came before the heal is settled once the heal began (after a reroute, or when the
  // wait for one ran out): only an interruption before it leaves the reroute unmeasured.
  const stoppedAfterFault = metrics.restartAt === null ? stoppedAfter(metrics.faultAt) : null;
  let interruptionSaid = false;
  if (setup.where === 'lab') {
    const lbName = setup.versions?.lb?.program ? `The load balancer (${setup.versions.lb.program})` : 'The load balancer';
    if (setup.lb?.hasView === false) parts.push(`${lbName} keeps no view of its backends, so when it took ${zone} out is not known`);
    else if (metrics.lb.downAfterFaultMs !== null) parts.push(`The load balancer marked ${zone} down ${secondsText(metrics.lb.downAfterFaultMs)} after ${noun}`);
    else if (stoppedAfterFault !== null) {
      parts.push(`The load balancer had not marked ${zone} down when the run was interrupted, ${stoppedAfterFault} after ${noun}`);
      interruptionSaid = true;
    } else parts.push(`The load balancer never marked ${zone} down`);
  }
  const after = setup.where === 'lab' ? 'it' : noun;
  if (metrics.rerouted) parts.push(`traffic was rerouted ${secondsText(metrics.timeToRerouteMs ?? 0)} after ${after}`);
  else if (stoppedAfterFault !== null) parts.push(interruptionSaid ? 'nor had traffic been rerouted' : `traffic had not been rerouted when the run was interrupted, ${stoppedAfterFault} after ${after}`);
  else parts.push(`traffic was not rerouted within ${secondsText(setup.maxWaitMs)}${notReroutedBecause(metrics, bounds)}`);
  parts.push(metrics.errors.count === 0 ? 'no request failed' : `${metrics.errors.count} request${metrics.errors.count === 1 ? '' : 's'} failed (${errorKindsText(metrics.errors.byKind)})`);
  const first = `${parts.join('; ')}.`;
  const lines = [`- ${first.charAt(0).toUpperCase()}${first.slice(1)}`];
  const heal = healNoun(setup);
  const After = `After ${heal}`;
  if (metrics.restartAt !== null) {
    const stoppedAfterHeal = stoppedAfter(metrics.restartAt);
    lines.push(
      metrics.returned
        ? `- ${After}, traffic returned ${secondsText(metrics.timeToReturnFromReadyMs ?? 0)} after the server was ready (${secondsText(metrics.timeToReturnMs ?? 0)} after ${heal}).`
        : stoppedAfterHeal !== null
          ? `- ${After}, ${zone} had not served again when the run was interrupted, ${stoppedAfterHeal} later: the return was not measured.`
          : `- ${After}, ${zone} did not serve again within ${secondsText(setup.maxWaitMs)}.`,
    );
  } else if (stoppedAfterFault !== null) {
    lines.push(`- The run was interrupted before ${heal}: ${metrics.rerouted ? 'the return was' : 'the reroute and the return were'} not measured.`);
  }
  // Every request is in exactly one phase × zone cell, '(no answer)' included.
  const total = metrics.zones.reduce((sum, cell) => sum + cell.requests, 0);
  const byInstance: Record<string, number> = {};
  for (const phase of metrics.phases) {
    for (const [name, n] of Object.entries(phase.byInstance)) byInstance[name] = (byInstance[name] ?? 0) + n;
  }
  if (total > 0) {
    const share = (n: number) => `${n} (${((n / total) * 100).toFixed(1)}%)`;
    const vms = Object.entries(byInstance)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, n]) => `${name} ${share(n)}`);
    const failures = metrics.errors.count ? `; ${share(metrics.errors.count)} failed${Object.keys(metrics.errors.byKind).some((k) => k.startsWith('HTTP')) ? ' (a 5xx answer counts with its VM too)' : ''}` : '';
    lines.push(`- Over the whole run, of ${total} requests the VMs answered ${vms.join(', ')}${failures}.`);
  }
  return lines;
}

/** What a reader should know that changes no measure (lag far from the fault and the return). Pure. */
export function renderNotes(metrics: FailoverMetrics): string[] {
  return assessLag(metrics).notes;
}

/** What the reader must not miss: an interrupted run, a bound exceeded, no reroute or return. Pure. */
export function renderWarnings(setup: RunSetup, metrics: FailoverMetrics, bounds: RunBounds | null = runBounds(setup)): string[] {
  const warnings: string[] = [];
  if (metrics.interrupted) warnings.push('The run was interrupted: the numbers cover only what happened before, and a measure shown as missing may simply not have happened yet.');
  const detection = bounds?.detection;
  // Against Google Cloud the bounds come from a model of what it documents: beyond one is
  // something to explain, not proof of a fault in the load balancer.
  const modelled = setup.where === 'target';
  const beyond = (measure: string, bound: number) =>
    modelled
      ? `${measure} is beyond the ${bound} s the model of Google Cloud's probing predicts: an observation to explain (Google does not document how its probers' verdicts combine or how long applying one takes; --apply-delay is the allowance for that).`
      : null;
  if (detection && metrics.rerouted && metrics.timeToRerouteMs !== null && metrics.timeToRerouteMs > detection.sec * 1000) {
    warnings.push(beyond(`Time to reroute (${secondsText(metrics.timeToRerouteMs)})`, detection.sec) ?? `Time to reroute (${secondsText(metrics.timeToRerouteMs)}) exceeds the ${detection.sec} s the spec implies for a correct load balancer.`);
  }
  if (detection && metrics.lb.downAfterFaultMs !== null && metrics.lb.downAfterFaultMs > detection.sec * 1000) {
    warnings.push(beyond(`The time the load balancer took to mark the zone down (${secondsText(metrics.lb.downAfterFaultMs)})`, detection.sec) ?? `The load balancer marked the zone down after ${secondsText(metrics.lb.downAfterFaultMs)}, more than the ${detection.sec} s the spec implies.`);
  }
  if (bounds && metrics.returned && metrics.timeToReturnFromReadyMs !== null && metrics.timeToReturnFromReadyMs > bounds.return.sec * 1000) {
    warnings.push(beyond(`Time to return from ready (${secondsText(metrics.timeToReturnFromReadyMs)})`, bounds.return.sec) ?? `Time to return from ready (${secondsText(metrics.timeToReturnFromReadyMs)}) exceeds the ${bounds.return.sec} s the spec implies.`);
  }
  if (metrics.faultAt !== null && !metrics.rerouted && !(metrics.interrupted && metrics.restartAt === null)) {
    const unseen = bounds?.view === 'passes' ? ' (the health check cannot see this fault)' : '';
    const tooShort = detection && setup.maxWaitMs < detection.sec * 1000 + setup.holdMs ? ` (the wait, ${secondsText(setup.maxWaitMs)}, was shorter than the ${detection.sec} s bound plus the hold)` : '';
    warnings.push(`Traffic was not rerouted${unseen}${tooShort}.`);
  }
  if (metrics.restartAt !== null && !metrics.returned && !metrics.interrupted) warnings.push(`${setup.faultZone} did not serve again after ${healNoun(setup)}.`);
  warnings.push(...assessLag(metrics).warnings);
  const unsent = metrics.loadUnsent ?? [];
  if (unsent.length > 0) {
    const count = unsent.reduce((sum, episode) => sum + episode.count, 0);
    const sent = metrics.zones.reduce((sum, cell) => sum + cell.requests, 0);
    warnings.push(
      `The load generator could not keep ${setup.rate} requests/s: ${count} requests were not sent (due from ${secondsText(unsent[0]!.fromMs)} to ${secondsText(unsent.at(-1)!.toMs)}) rather than queued without end, and ${sent} were. The measures count the requests sent; choose a lower --rate for a run at the rate asked.`,
    );
  }
  return warnings;
}
