import { ZonelabError } from '../errors.js';

/**
 * One load balancer, described with Google Cloud's health-check field names, so the same
 * spec renders an HAProxy config locally and gcloud commands in the cloud.
 */
export interface LoadBalancerSpec {
  /** Profile the spec started from. */
  profile: ProfileName;
  /** Seconds between health checks of one backend (GCP: 1–300). */
  checkIntervalSec: number;
  /** Seconds a health check may take (GCP: 1–300, at most the interval). */
  timeoutSec: number;
  /** Consecutive successes that mark a backend healthy (GCP: 1–10). */
  healthyThreshold: number;
  /** Consecutive failures that mark a backend unhealthy (GCP: 1–10). */
  unhealthyThreshold: number;
  /** Path the health check GETs, expecting 200. */
  requestPath: string;
  /** Backend port the servers listen on and the health check probes. */
  port: number;
  /** `tcp`: a network (pass-through, L4) load balancer; `http`: a proxy that parses HTTP. */
  mode: 'tcp' | 'http';
  balance: 'roundrobin' | 'leastconn' | 'source';
  /** Connection attempts retried by the load balancer (0: none, as on GCP's network LB). */
  retries: number;
  /** Retry a failed connection on another backend. */
  redispatch: boolean;
  /** Mark a backend down on its first failed connection of real traffic, before health checks do. */
  observeErrors: boolean;
}

export type ProfileName = 'gcp-default' | 'fast' | 'zero-error';

interface Limit {
  min: number;
  max: number;
  integer: boolean;
}

const LIMITS: Partial<Record<keyof LoadBalancerSpec, Limit>> = {
  checkIntervalSec: { min: 1, max: 300, integer: true },
  timeoutSec: { min: 1, max: 300, integer: true },
  healthyThreshold: { min: 1, max: 10, integer: true },
  unhealthyThreshold: { min: 1, max: 10, integer: true },
  port: { min: 1, max: 65535, integer: true },
  retries: { min: 0, max: 10, integer: true },
};

// The names users type (gcloud's flags) for the fields errors talk about.
export const FLAG_OF: Partial<Record<keyof LoadBalancerSpec, string>> = {
  checkIntervalSec: '--check-interval',
  timeoutSec: '--check-timeout',
  healthyThreshold: '--healthy-threshold',
  unhealthyThreshold: '--unhealthy-threshold',
  requestPath: '--request-path',
  port: '--port',
  mode: '--mode',
  balance: '--balance',
};

function bad(field: keyof LoadBalancerSpec, message: string): ZonelabError {
  const flag = FLAG_OF[field];
  return new ZonelabError('E_BAD_SPEC', `${field}${flag ? ` (${flag})` : ''} ${message}`);
}

/** Checks a spec against Google Cloud's limits; throws one clear error naming the field. */
export function validateSpec(spec: LoadBalancerSpec): LoadBalancerSpec {
  for (const [field, limit] of Object.entries(LIMITS) as [keyof LoadBalancerSpec, Limit][]) {
    const value = spec[field];
    if (typeof value !== 'number' || !Number.isFinite(value) || (limit.integer && !Number.isInteger(value)) || value < limit.min || value > limit.max) {
      throw bad(field, `must be ${limit.integer ? 'an integer' : 'a number'} from ${limit.min} to ${limit.max}, got ${String(value)}`);
    }
  }
  if (spec.timeoutSec > spec.checkIntervalSec) {
    throw bad('timeoutSec', `must not exceed checkIntervalSec (${spec.checkIntervalSec}), got ${spec.timeoutSec}`);
  }
  if (!/^\/[\x21-\x7e]{0,1023}$/.test(spec.requestPath)) {
    throw bad('requestPath', `must start with "/" and hold only visible ASCII, got ${JSON.stringify(spec.requestPath)}`);
  }
  if (spec.mode !== 'tcp' && spec.mode !== 'http') throw bad('mode', `must be tcp or http, got ${JSON.stringify(spec.mode)}`);
  if (!['roundrobin', 'leastconn', 'source'].includes(spec.balance)) {
    throw bad('balance', `must be roundrobin, leastconn or source, got ${JSON.stringify(spec.balance)}`);
  }
  return spec;
}

/** How long, at most, the load balancer needs to mark a dead backend down (checks alone). */
export function detectionBoundSec(spec: LoadBalancerSpec): number {
  return spec.unhealthyThreshold * spec.checkIntervalSec + spec.timeoutSec;
}

/** How long, at most, the load balancer needs to mark a returned backend up. */
export function returnBoundSec(spec: LoadBalancerSpec): number {
  return spec.healthyThreshold * spec.checkIntervalSec + spec.timeoutSec;
}

/**
 * Seconds a server told to stop (SIGTERM) keeps serving while its health check fails: the
 * detection bound, plus the time the balancer may take to apply its verdict
 * (`applyDelaySec`: Google Cloud's is not documented, see `GCP_APPLY_DELAY_SEC`), plus one,
 * so the load balancer sends nothing new before the server stops answering: a passthrough
 * balancer retries nothing, and a connection that reaches a closed port is reset. The bound
 * holds for every prober, so for several. Derived, never configured, so no profile or
 * override can keep a drain shorter than its checks need.
 */
export function drainSecondsFor(spec: LoadBalancerSpec, applyDelaySec = 0): number {
  return detectionBoundSec(spec) + applyDelaySec + 1;
}
