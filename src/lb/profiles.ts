import { ZonelabError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import { type LoadBalancerSpec, type ProfileName, validateSpec } from './spec.js';

const BASE = { requestPath: '/healthz', port: 8080, mode: 'tcp', balance: 'roundrobin' } as const;

/**
 * - `gcp-default`: Google Cloud's health-check defaults (5 s interval and timeout, 2 and 2),
 *   nothing else: what a network load balancer gives you.
 * - `fast`: checks every second (1/1/2/2).
 * - `zero-error`: `fast`, plus connection retries redispatched to another backend, real
 *   traffic watched so the first failed connection marks a backend down.
 *
 * Every profile's servers drain for `drainSecondsFor(spec)` when told to stop.
 */
const FAST: LoadBalancerSpec = {
  ...BASE,
  profile: 'fast',
  checkIntervalSec: 1,
  timeoutSec: 1,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
  retries: 0,
  redispatch: false,
  observeErrors: false,
};

export const PROFILES: Record<ProfileName, LoadBalancerSpec> = {
  'gcp-default': { ...FAST, profile: 'gcp-default', checkIntervalSec: 5, timeoutSec: 5 },
  fast: FAST,
  'zero-error': {
    ...FAST,
    profile: 'zero-error',
    retries: 3,
    redispatch: true,
    observeErrors: true,
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

/** The overrides a command's flags may carry; undefined fields keep the profile's value. */
export type SpecOverrides = Partial<Omit<LoadBalancerSpec, 'profile'>>;

/** A profile with single fields overridden by flags, validated. */
export function resolveSpec(profile: string, overrides: SpecOverrides = {}): LoadBalancerSpec {
  if (!(profile in PROFILES)) {
    throw new ZonelabError('E_BAD_SPEC', `profile "${profile}" does not exist; choose one of ${PROFILE_NAMES.join(', ')}${didYouMean(profile, PROFILE_NAMES)}`);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  return validateSpec({ ...PROFILES[profile as ProfileName], ...defined });
}
