import { type Command, InvalidArgumentError, Option } from 'commander';
import { numberIn } from './option-parsers.js';
import { type LbDriverKind, lbDriver, lbKinds, type LoadBalancerSpec, PROBER_RULES, passthroughSettings, PROFILE_NAMES, resolveSpec } from '../lb/index.js';

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

export interface LbFlags {
  lb: string;
  probers?: number;
  proberRule?: string;
  connectionPersistence?: string;
  applyDelay?: number;
}

/** `--lb <driver>`: which load balancer. */
export function lbOption(): Option {
  return new Option('--lb <driver>', `load balancer: ${lbKinds().map((kind) => `${kind} (${lbDriver(kind).summary.split(':')[0]})`).join('; ')}`)
    .choices(lbKinds())
    .default('haproxy');
}

/** The load balancer's flags: which driver, and the passthrough balancer's own settings. */
export function addLbOptions(command: Command): Command {
  return command
    .addOption(lbOption())
    .addOption(new Option('--probers <n>', 'with --lb passthrough: probers that each check every backend every interval (1–16)').argParser(integer).default(3))
    .addOption(
      new Option('--prober-rule <rule>', 'with --lb passthrough: how many probers\' "unhealthy" take a backend out: any, majority, all (Google does not document it)')
        .choices([...PROBER_RULES])
        .default('majority'),
    )
    .addOption(
      new Option('--connection-persistence <mode>', 'with --lb passthrough: established connections to a backend taken out: kept (default, as Google does) or reset (never)')
        .choices(['default', 'never'])
        .default('default'),
    )
    .addOption(
      new Option(
        '--apply-delay <s>',
        'seconds between a health verdict and the traffic following it, which Google Cloud does not document: with --lb passthrough the balancer waits that long (default 0); with --target it is the allowance for it in the windows the report holds the run to (default 2); the windows\' high end grows by as much',
      ).argParser(numberIn(0, 600)),
    );
}

/** The driver and its settings from the flags; passthrough's flags on another driver are one usage error. */
export function lbFromFlags(command: Command, flags: LbFlags, elsewhere: readonly string[] = []): { kind: LbDriverKind; settings: Record<string, string | number | boolean> } {
  const kind = flags.lb as LbDriverKind;
  if (kind !== 'passthrough') {
    // `elsewhere`: flags the command uses for something else here (--apply-delay with a target).
    const typedFlag = ['probers', 'proberRule', 'connectionPersistence', 'applyDelay'].find((name) => !elsewhere.includes(name) && command.getOptionValueSource(name) === 'cli');
    if (typedFlag) command.error(`error: --${typedFlag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to --lb passthrough only`, { exitCode: 1 });
    return { kind, settings: {} };
  }
  const settings = passthroughSettings({ probers: flags.probers ?? 3, proberRule: flags.proberRule ?? 'majority', persistence: flags.connectionPersistence ?? 'default', applyDelay: flags.applyDelay ?? 0 });
  return { kind, settings: { ...settings } };
}
