export { readAddress, readHealth, readInstances, runPlan, tearDown, waitUntilHealthy } from './apply.js';
export { type CommandResult, type CommandRunner, processRunner } from './command-runner.js';
export { defaultZones, type GcpDeployment, type LbKind, resourceNames, VM_NODE_VERSION, validateDeployment } from './deployment.js';
export { type BackendHealth, parseBackendHealth } from './health.js';
export { failoverCommand, faultCommands, type GcpPlan, type PlanCommand, type PlanStep, planGcp, planNotes } from './plan.js';
export { renderPlanScript, shellCommand } from './plan-script.js';
export { renderStartupScript, renderUnit, serviceCommand, type VmRole } from './vm-files.js';
