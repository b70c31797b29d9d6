export { checkGcloud, readAddress, readHealth, readInstances, runPlan, tearDown, waitUntilHealthy } from './apply.js';
export { type CommandResult, type CommandRunner, processRunner } from './command-runner.js';
export {
  defaultBucket,
  defaultZones,
  type GcpDeployment,
  type LbKind,
  resourceNames,
  VM_GRANTS,
  VM_NODE_VERSION,
  validateDeployment,
} from './deployment.js';
export {
  COMMAND_TIMEOUT_SEC,
  type FailoverCommandOptions,
  failoverCommand,
  faultCommands,
  REMOTE_READY_TIMEOUT_SEC,
  type RemoteTransport,
} from './fault-commands.js';
export { type BackendHealth, parseBackendHealth } from './health.js';
export { commandsOf, EACH, type GcpPlan, type PlanCommand, type PlanStep, planGcp, preflightCommands } from './plan.js';
export { renderPlanScript, shellCommand } from './plan-script.js';
export { downCommand, planNotes, planSummary } from './summary.js';
export { OPS_AGENT_CONFIG, OPS_AGENT_UNIT_PATTERN, renderStartupScript, renderUnit, serviceCommand, VM_ATTRIBUTES, type VmRole } from './vm-files.js';
