import { type Bound, type CheckView, detectionBound, type LbKind, type LoadBalancerSpec, type ModelOptions, passthroughSettings, returnBound } from '../lb/index.js';
import { type Fault, parseFault, type RunSetup } from '../records/index.js';

/** How a fault looks to the spec's health check (see `CheckView`). */
export function checkViewOf(fault: Fault, spec: LoadBalancerSpec): CheckView {
  switch (fault.kind) {
    case 'kill':
    case 'term':
    case 'reset':
    case 'health-fail':
      return 'fails-fast';
    case 'stop':
    case 'partition':
      return 'times-out';
    case 'latency':
      return fault.ms >= spec.timeoutSec * 1000 ? 'times-out' : 'passes';
    case 'errors':
      return 'passes';
    case 'flap':
      return 'alternates';
  }
}

export interface RunBounds {
  lb: LbKind;
  /** What the check sees of the fault (a command's: as `--check-sees` states, else taken as a timeout). */
  view: CheckView;
  /** The probers' model's open parameter (Google Cloud, the passthrough balancer): see `ModelOptions`. */
  model: ModelOptions;
  /** Null when the health check cannot see the fault. */
  detection: Bound | null;
  return: Bound;
}

/**
 * The bounds a run's spec implies for its fault, or null without a spec: by the lab's own
 * load balancer (HAProxy, or the passthrough one with Google's probing model; runs saved
 * before there were drivers had HAProxy); a target is taken to be Google Cloud's (what
 * `gcp up` builds). A
 * fault command's effect is unknown, so its checks are assumed to time out (the larger
 * bound, which also holds when they fail at once).
 */
export function runBounds(setup: Pick<RunSetup, 'spec' | 'fault' | 'where' | 'lb' | 'checkSees' | 'applyDelaySec'>): RunBounds | null {
  if (!setup.spec) return null;
  const lb: LbKind = setup.where === 'lab' ? ((setup.lb?.kind as LbKind | undefined) ?? 'haproxy') : 'gcp';
  const view = setup.fault === 'command' ? (setup.checkSees ?? 'times-out') : checkViewOf(parseFault(setup.fault), setup.spec);
  // The same parameter on both sides: the allowance stated for Google Cloud, the delay the lab's passthrough balancer applies.
  const model: ModelOptions = { applyDelaySec: setup.where === 'lab' ? passthroughSettings(setup.lb?.settings).applyDelay : (setup.applyDelaySec ?? 0) };
  return { lb, view, model, detection: detectionBound(setup.spec, lb, view, model), return: returnBound(setup.spec, lb, view, model) };
}
