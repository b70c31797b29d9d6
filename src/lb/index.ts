export { type Backend, type HaproxyConfigOptions, renderHaproxyConfig } from './haproxy-config.js';
export { PROFILE_NAMES, PROFILES, resolveSpec, type SpecOverrides } from './profiles.js';
export { parseShowStat, runtimeCommand, type ServerStat, showServers } from './runtime-api.js';
export { detectionBoundSec, drainSecondsFor, FLAG_OF, type LoadBalancerSpec, type ProfileName, returnBoundSec, validateSpec } from './spec.js';
export { type Bound, type CheckView, detectionBound, detectionWindow, GCP_APPLY_DELAY_SEC, type LbKind, type ModelOptions, rerouteWindow, returnBound, returnWindow, type Window } from './bounds.js';
export * from './drivers/index.js';
