import type { LoadBalancerSpec } from './spec.js';

/**
 * Whose health checking a bound is about: HAProxy's (one check at a time per server), or
 * fixed-rate probers, Google Cloud's own (`gcp`) or the lab's passthrough balancer, which
 * follows the same documented model (`passthrough`, timed on this machine, with its timers'
 * allowance).
 */
export type LbKind = 'haproxy' | 'gcp' | 'passthrough' | 'caddy' | 'nginx';

/** The probers' model (Google Cloud's), whoever runs it. */
function probes(lb: LbKind): boolean {
  return lb === 'gcp' || lb === 'passthrough';
}

function probersName(lb: LbKind): string {
  return lb === 'gcp' ? "Google Cloud's probing as modelled here" : "the passthrough balancer (the same model of Google Cloud's probing)";
}

/**
 * What the probers' model leaves open, for Google Cloud and the passthrough balancer alike:
 * how long after the probers' verdict the traffic follows it. Google does not document
 * it; for a run against Google Cloud it is an allowance the user states (`--apply-delay`),
 * in the lab the passthrough balancer waits exactly that long before applying a verdict.
 * It lengthens the high end of every window; the low end stays (a delay of zero is possible).
 */
export interface ModelOptions {
  applyDelaySec?: number;
}

/**
 * The allowance for Google Cloud's apply delay when `--apply-delay` does not say: Google
 * does not document that time, so this is a stated guess, not a measurement, and the
 * formulas say so wherever it counts.
 */
export const GCP_APPLY_DELAY_SEC = 2;

/** The apply delay where the model has one (fixed-rate probers), else 0. */
function applyDelayOf(lb: LbKind, model: ModelOptions): number {
  return probes(lb) ? Math.max(0, model.applyDelaySec ?? 0) : 0;
}

function applyDelayText(lb: LbKind, delay: number): string {
  if (delay === 0) return '';
  return lb === 'gcp' ? ` + ${delay} s allowed for Google Cloud to apply the verdict (not documented; --apply-delay)` : ` + ${delay} s the balancer waits before applying a verdict (--apply-delay)`;
}

/**
 * How a faulted backend looks to its health check: it fails at once (refused, reset, 503),
 * each check waits for its timeout (frozen, packets dropped, slower than the timeout), the
 * check keeps passing (errors on objects, latency under the timeout), or it alternates.
 */
export type CheckView = 'fails-fast' | 'times-out' | 'passes' | 'alternates';

export interface Bound {
  /** The bound in seconds. */
  sec: number;
  /** How it is computed, in words and numbers, for the report. */
  formula: string;
}

// Timers, the check in flight when the fault lands, and the poll that sees the change:
// a fixed allowance rather than a bound that a correct load balancer misses by 20 ms.
const ALLOWANCE_SEC = 0.2;

function round(sec: number): number {
  return Math.round(sec * 100) / 100;
}

/**
 * The longest a correct load balancer takes to mark a faulted backend down, from the
 * fault; null when its health check cannot see the fault.
 *
 * - HAProxy runs one check at a time per server and schedules the next `inter` after the
 *   previous one ended, so a check that times out delays the next: `fall × (inter +
 *   timeout)`; a check that fails at once: `fall × inter`. (HAProxy's manual, "inter" and
 *   "timeout check"; its connect timeout for checks is min(timeout connect, inter), never
 *   more than the timeout here.)
 * - Google Cloud: a model, not a documented guarantee. Google defines the check interval as
 *   "the amount of time from the start of one probe issued by one prober to the start of
 *   the next probe issued by the same prober", and says several probers check each backend
 *   ("Multiple probes and frequency", https://cloud.google.com/load-balancing/docs/health-check-concepts).
 *   Read as: each prober sends a probe every interval whether or not its last one has
 *   answered, so its last failing probe leaves at `unhealthy × interval` and fails
 *   `timeout` later at most. That holds for every prober, so for any rule that combines
 *   their verdicts, which Google does not document either. Nor does it say how long
 *   applying a verdict takes: `model.applyDelaySec` is that allowance. The lab's
 *   passthrough balancer implements this model and adds its timers' allowance.
 */
export function detectionBound(spec: LoadBalancerSpec, lb: LbKind, view: CheckView, model: ModelOptions = {}): Bound | null {
  if (view === 'passes' || view === 'alternates') return null;
  const n = spec.unhealthyThreshold;
  const i = spec.checkIntervalSec;
  const t = spec.timeoutSec;
  // nginx has no active check: only traffic takes a backend out, so no time bounds it.
  if (lb === 'nginx') return null;
  // Caddy 2.6 checks every interval and one failed check decides (no thresholds).
  if (lb === 'caddy') {
    return view === 'times-out'
      ? { sec: round(i + t + ALLOWANCE_SEC), formula: `Caddy 2.6, a check that times out decides: interval ${i} s + timeout ${t} s + ${ALLOWANCE_SEC} s (no thresholds)` }
      : { sec: round(i + ALLOWANCE_SEC), formula: `Caddy 2.6, a check that fails decides: interval ${i} s + ${ALLOWANCE_SEC} s (no thresholds)` };
  }
  if (lb === 'haproxy') {
    return view === 'times-out'
      ? { sec: round(n * (i + t) + ALLOWANCE_SEC), formula: `HAProxy, checks that time out: unhealthy ${n} × (interval ${i} s + timeout ${t} s) + ${ALLOWANCE_SEC} s (one check at a time, each waiting for its timeout)` }
      : { sec: round(n * i + ALLOWANCE_SEC), formula: `HAProxy, checks that fail at once: unhealthy ${n} × interval ${i} s + ${ALLOWANCE_SEC} s` };
  }
  const allowance = lb === 'passthrough' ? ALLOWANCE_SEC : 0;
  const delay = applyDelayOf(lb, model);
  const plus = `${allowance ? ` + ${allowance} s` : ''}${applyDelayText(lb, delay)}`;
  return view === 'times-out'
    ? { sec: round(n * i + t + allowance + delay), formula: `${probersName(lb)}, probes that time out: unhealthy ${n} × interval ${i} s + timeout ${t} s${plus} (probes do not wait for each other)` }
    : { sec: round(n * i + allowance + delay), formula: `${probersName(lb)}, probes that fail at once: unhealthy ${n} × interval ${i} s${plus}` };
}

/**
 * The longest a correct load balancer takes to mark a backend up again once it answers
 * its health check: `healthy` passing checks, after the one in flight, which may still
 * time out when the fault made checks time out.
 */
export function returnBound(spec: LoadBalancerSpec, lb: LbKind, view: CheckView, model: ModelOptions = {}): Bound {
  const n = spec.healthyThreshold;
  const i = spec.checkIntervalSec;
  const t = spec.timeoutSec;
  const inFlight = view === 'times-out' ? t : 0;
  const extra = inFlight ? ` + timeout ${t} s (the check in flight)` : '';
  if (lb === 'nginx') {
    // nginx keeps the time of a backend's last failure in whole seconds and skips it while
    // `now - checked <= fail_timeout` (ngx_http_upstream_round_robin.c, get_peer): up to a
    // second more than fail_timeout.
    const failTimeout = i * n;
    return { sec: round(failTimeout + 1 + ALLOWANCE_SEC), formula: `nginx tries a failed backend again after fail_timeout ${failTimeout} s (healthy ${n} × interval ${i} s), counted in whole seconds (+ 1 s), + ${ALLOWANCE_SEC} s` };
  }
  if (lb === 'caddy') return { sec: round(i + inFlight + ALLOWANCE_SEC), formula: `Caddy 2.6: one passing check, within interval ${i} s${extra} + ${ALLOWANCE_SEC} s` };
  if (lb === 'haproxy') {
    return { sec: round(n * i + inFlight + ALLOWANCE_SEC), formula: `HAProxy: healthy ${n} × interval ${i} s${extra} + ${ALLOWANCE_SEC} s` };
  }
  const allowance = lb === 'passthrough' ? ALLOWANCE_SEC : 0;
  const delay = applyDelayOf(lb, model);
  return { sec: round(n * i + inFlight + allowance + delay), formula: `${probersName(lb)}: healthy ${n} × interval ${i} s${extra}${allowance ? ` + ${allowance} s` : ''}${applyDelayText(lb, delay)}` };
}

/** Where a correct load balancer's time must fall, seconds, with how it is computed. */
export interface Window {
  low: number;
  high: number;
  formula: string;
}

/**
 * The window the spec predicts for marking a faulted backend down, from the fault; null
 * when its health check cannot see the fault. The low end is a fault that lands just
 * before a check: that check already fails, so only `unhealthy − 1` more intervals (and,
 * when checks time out, each check's timeout) are left. The high end is `detectionBound`.
 */
export function detectionWindow(spec: LoadBalancerSpec, lb: LbKind, view: CheckView, model: ModelOptions = {}): Window | null {
  const high = detectionBound(spec, lb, view, model);
  if (!high) return null;
  // One check decides, and the fault may land just before it.
  if (lb === 'caddy') return { low: view === 'times-out' ? round(Math.max(0, spec.timeoutSec - ALLOWANCE_SEC)) : 0, high: high.sec, formula: `from ${view === 'times-out' ? `timeout ${spec.timeoutSec} s − ${ALLOWANCE_SEC} s` : '0 s'} (the fault lands just before a check) to ${high.formula}` };
  const n = spec.unhealthyThreshold;
  const i = spec.checkIntervalSec;
  const t = spec.timeoutSec;
  const timesOut = view === 'times-out';
  // HAProxy waits `inter` after each check ends; Google Cloud's probes leave every interval.
  const low = !probes(lb) ? (timesOut ? n * t + (n - 1) * i : (n - 1) * i) : timesOut ? (n - 1) * i + t : (n - 1) * i;
  const lowFormula = !probes(lb) && timesOut ? `unhealthy ${n} × timeout ${t} s + ${n - 1} × interval ${i} s` : `${n - 1} × interval ${i} s${timesOut ? ` + timeout ${t} s` : ''}`;
  return { low: round(Math.max(0, low - ALLOWANCE_SEC)), high: high.sec, formula: `from ${lowFormula} − ${ALLOWANCE_SEC} s (the fault lands just before a check) to ${high.formula}` };
}

/**
 * The window for the time to reroute: the detection window, except that behind a
 * balancer that forwards packets (Google's model) a connect already under way when a
 * backend that drops packets goes out of service is saved by the client's own SYN
 * retransmission, which the balancer then sends to a backend in service (with connection
 * tracking PER_CONNECTION, "a TCP packet with the SYN flag always represents a new
 * connection", https://cloud.google.com/load-balancing/docs/network/ext-netlb-traffic-distribution).
 * So the last request that failed may have been sent up to one client timeout before the
 * backend went out: the low end is that much earlier. Measured in the lab: DOWN 2.58 s,
 * reroute 1.47 s, with Linux retransmitting a SYN every second (tcp_syn_linear_timeouts).
 */
export function rerouteWindow(spec: LoadBalancerSpec, lb: LbKind, view: CheckView, clientTimeoutSec: number, model: ModelOptions = {}): Window | null {
  const window = detectionWindow(spec, lb, view, model);
  if (!window || !probes(lb) || view !== 'times-out') return window;
  return { ...window, low: round(Math.max(0, window.low - clientTimeoutSec)), formula: `${window.formula}; less the client's timeout ${clientTimeoutSec} s at the low end (a connect under way is saved by its SYN retransmitted after the backend went out)` };
}

/**
 * The window the spec predicts for marking a backend up again once it answers its check:
 * from `healthy − 1` intervals (it answers just before a check) to `returnBound`.
 */
export function returnWindow(spec: LoadBalancerSpec, lb: LbKind, view: CheckView, model: ModelOptions = {}): Window {
  const high = returnBound(spec, lb, view, model);
  if (lb === 'caddy' || lb === 'nginx') return { low: 0, high: high.sec, formula: `from 0 s to ${high.formula}` };
  const n = spec.healthyThreshold;
  const i = spec.checkIntervalSec;
  return { low: round(Math.max(0, (n - 1) * i - ALLOWANCE_SEC)), high: high.sec, formula: `from ${n - 1} × interval ${i} s − ${ALLOWANCE_SEC} s (ready just before a check) to ${high.formula}` };
}
