import { runShellCommand } from './run-shell.js';
import type { FaultInjector } from './injector.js';

export interface CommandFault {
  kill: string;
  restart: string;
  /** How long either command may run, ms. */
  timeoutMs: number;
}

/** Any load balancer: shell commands the user gives break the zone and restart it. */
export function commandInjector(commands: CommandFault): FaultInjector {
  return {
    label: `\`${commands.kill}\``,
    inject: async (now) => {
      // A remote kill happens at the end of its command (after e.g. an ssh handshake of a
      // second or more), so the fault is timed when the command returns, not when it starts.
      await runShellCommand(commands.kill, commands.timeoutMs);
      return now();
    },
    heal: async () => {
      await runShellCommand(commands.restart, commands.timeoutMs);
      return 'restart command finished';
    },
  };
}
