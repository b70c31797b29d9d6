export { isNotModified, type ConditionalHeaders } from './conditional.js';
export { FORBIDDEN_COUNTRIES, forbiddenCountryIn } from './forbidden-countries.js';
export { createLogSink, createPublisherSink, type ForbiddenEvent, type ForbiddenEventSink } from './forbidden-sink.js';
export { startZoneServer, type ZoneServer, type ZoneServerOptions } from './http-listener.js';
export { discoverIdentity, type IdentityOptions, type MetadataRetry, type ServerIdentity } from './identity.js';
export { objectTargetOf, pathOfTarget, type ObjectTarget } from './request-target.js';
export { DEPLOYMENT_PREFIX, HEALTH_PATH, handleRequest, type RequestInfo, type ResponseInfo, type RulesContext } from './rules.js';
export { type RunningServer, type ServeOptions, serve } from './serve.js';
export { type GrayFault, GrayFaults, isGrayFault } from './gray-faults.js';
