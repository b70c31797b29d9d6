import { type Command, InvalidArgumentError, Option } from 'commander';
import { type LoadBalancerSpec, PROFILE_NAMES, resolveSpec } from '../lb/index.js';

export interface SpecFlags {
  profile: string;
  mode?: string;
  checkInterval?: number;
  checkTimeout?: number;
  /** The old name of --check-timeout (a hint says so). */
  timeout?: number;
  healthyThreshold?: number;
  unhealthyThreshold?: number;
  requestPath?: string;
}

/** The option names (as commander keys them) that state a spec. */
export const SPEC_OPTION_NAMES = ['profile', 'mode', 'checkInterval', 'checkTimeout', 'timeout', 'healthyThreshold', 'unhealthyThreshold', 'requestPath'] as const;

function integer(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number.');
  return Number(value);
}

/**
 * The load-balancer spec flags, named as gcloud names them, on any command that takes a
 * spec. Unset flags keep the profile's values; the range checks are the spec's own.
 */
export function addSpecOptions(command: Command, defaultProfile = 'fast'): Command {
  return command
    .option('--profile <name>', `load-balancer profile: ${PROFILE_NAMES.join(', ')}`, defaultProfile)
    .option('--mode <mode>', 'tcp (a network load balancer) or http (a proxy)')
    .option('--check-interval <s>', 'seconds between health checks (1–300)', integer)
    .option('--check-timeout <s>', 'seconds a health check may take (1–300, at most the interval; gcloud calls it --timeout)', integer)
    // One meaning per flag: --timeout is a request's timeout (zonelab client); the old spelling still works here, with a hint.
    .addOption(new Option('--timeout <s>', 'renamed: --check-timeout').argParser(integer).hideHelp())
    .option('--healthy-threshold <n>', 'successes that mark a backend healthy (1–10)', integer)
    .option('--unhealthy-threshold <n>', 'failures that mark a backend unhealthy (1–10)', integer)
    .option('--request-path <path>', 'path the health check GETs, expecting 200');
}

let renamedHintShown = false;

export function specFromFlags(flags: SpecFlags): LoadBalancerSpec {
  // --timeout has no default, so it is set only when typed: the old name of --check-timeout.
  if (flags.timeout !== undefined && !renamedHintShown) {
    renamedHintShown = true;
    process.stderr.write(`note: --timeout (of the health check) is now --check-timeout ${flags.timeout}\n`);
  }
  return resolveSpec(flags.profile, {
    mode: flags.mode as LoadBalancerSpec['mode'] | undefined,
    checkIntervalSec: flags.checkInterval,
    timeoutSec: flags.checkTimeout ?? flags.timeout,
    healthyThreshold: flags.healthyThreshold,
    unhealthyThreshold: flags.unhealthyThreshold,
    requestPath: flags.requestPath,
  });
}
