export { formatEventJson, formatEventLine } from './format.js';
export { type AuditOptions, runAudit } from './run-audit.js';
