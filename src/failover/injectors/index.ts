export { type CommandFault, commandInjector } from './command.js';
export type { FaultInjector } from './injector.js';
export { labFaultInjector } from './lab-fault.js';
