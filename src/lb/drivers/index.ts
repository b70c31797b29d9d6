import { ZonelabError } from '../../errors.js';
import { closestName } from '../../suggest.js';
import { LB_KINDS, type LbDriver, type LbDriverKind, type LbState, type LbStartOptions, type LoadBalancer } from './driver.js';
import { caddyDriver } from './caddy.js';
import { haproxyDriver } from './haproxy.js';
import { nginxDriver } from './nginx.js';
import { passthroughDriver } from './passthrough/index.js';

export * from './driver.js';
export { caddyVersion, parseCaddyLogLine, renderCaddyConfig } from './caddy.js';
export { checkHaproxyConfig, haproxyVersion, parseHaproxyLogLine } from './haproxy.js';
export { failTimeoutSec, nginxVersion, renderNginxConfig } from './nginx.js';
export {
  BackendHealth,
  outAt,
  PROBER_RULES,
  type PassthroughSettings,
  passthroughSettings,
  type ProberConfig,
  type ProberPolicy,
  type ProberRule,
  type ProberView,
  proberOffsets,
  readProberConfig,
  runProber,
  serviceScript,
  setupScript,
  SLOTS,
} from './passthrough/index.js';

const DRIVERS: Partial<Record<LbDriverKind, LbDriver>> = {
  passthrough: passthroughDriver,
  haproxy: haproxyDriver,
  caddy: caddyDriver,
  nginx: nginxDriver,
};

/** The driver of a kind; a one-line error (with the closest name) for any other. */
export function lbDriver(kind: string): LbDriver {
  const driver = DRIVERS[kind as LbDriverKind];
  if (driver) return driver;
  const guess = closestName(kind, [...LB_KINDS]);
  throw new ZonelabError('E_BAD_ARGUMENT', `no load balancer named "${kind}"${guess ? `: did you mean ${guess}?` : ''} (there are: ${Object.keys(DRIVERS).join(', ')})`);
}

/** The kinds there is a driver for, in the order `--help` lists them. */
export function lbKinds(): LbDriverKind[] {
  return LB_KINDS.filter((kind) => DRIVERS[kind] !== undefined);
}

/** Starts a balancer of `kind` (the factory every caller goes through). */
export function startLoadBalancer(kind: string, options: LbStartOptions): Promise<LoadBalancer> {
  return lbDriver(kind).start(options);
}

/** A balancer started earlier, from the state its start wrote. */
export function openLoadBalancer(state: LbState): LoadBalancer {
  return lbDriver(state.kind).open(state);
}

const NAMES: Record<LbDriverKind, string> = { passthrough: 'the passthrough balancer', haproxy: 'HAProxy', caddy: 'Caddy', nginx: 'nginx' };

/**
 * What the reports call a lab's balancer: `HAProxy`, `the passthrough balancer` …; runs
 * saved before there were drivers name none, and theirs was HAProxy. Pure.
 */
export function lbName(kind: string | undefined): string {
  return NAMES[(kind ?? 'haproxy') as LbDriverKind] ?? kind!;
}
