import { GCP_APPLY_DELAY_SEC } from '../lb/index.js';
import { type GcpDeployment, resourceNames } from './deployment.js';

/** How long, on the VM, the restart command waits for the server to answer its health check. */
export const REMOTE_READY_TIMEOUT_SEC = 120;

/**
 * How long `zonelab failover` lets the kill and restart commands run on this machine
 * (`--command-timeout`): the remote wait plus a minute for the ssh connection (an IAP
 * tunnel takes seconds to open) and the unit's start, so the local limit never cuts a
 * restart that the VM would still have completed.
 */
export const COMMAND_TIMEOUT_SEC = REMOTE_READY_TIMEOUT_SEC + 60;

/** How a command reaches a VM: a shell command on this machine that runs `remote` (a shell command, no single quotes) on it. */
export type RemoteTransport = (vm: string, zone: string, remote: string) => string;

/** `gcloud compute ssh`, through IAP unless the deployment admits ssh from a CIDR range. */
export function sshTransport(deployment: GcpDeployment): RemoteTransport {
  const tunnel = deployment.sshFrom === 'iap' ? ' --tunnel-through-iap' : '';
  return (vm, zone, remote) => `gcloud compute ssh ${vm} --zone=${zone} --project=${deployment.project}${tunnel} --quiet --command='${remote}'`;
}

/**
 * What the fault and the restart run on the VM. systemd never restarts the server (see the
 * unit), so it stays down until `restart`, which returns only once the server answers its
 * health check on the VM.
 */
export function remoteFaultCommands(deployment: GcpDeployment, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): { kill: string; restart: string } {
  const names = resourceNames(deployment);
  const ready = `until curl -fsS -o /dev/null http://127.0.0.1:${deployment.spec.port}${deployment.spec.requestPath}; do sleep 0.2; done`;
  return {
    kill: `sudo systemctl kill --signal=${signal} ${names.unit}`,
    restart: `sudo systemctl start ${names.unit} && timeout ${REMOTE_READY_TIMEOUT_SEC} sh -c "${ready}"`,
  };
}

/** Shell commands on this machine that fault and restore the server of one zone (over ssh unless told otherwise). */
export function faultCommands(
  deployment: GcpDeployment,
  zone: string,
  signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL',
  transport: RemoteTransport = sshTransport(deployment),
): { kill: string; restart: string } {
  const vm = resourceNames(deployment).serverVm(zone);
  const remote = remoteFaultCommands(deployment, signal);
  return { kill: transport(vm, zone, remote.kill), restart: transport(vm, zone, remote.restart) };
}

export interface FailoverCommandOptions {
  /** The load balancer's URL, such as http://203.0.113.7:8080. */
  url: string;
  /** The zone to fault; default the first. */
  zone?: string;
  transport?: RemoteTransport;
}

/** The `zonelab failover` command that measures this deployment, with the spec's values as its bounds. */
export function failoverCommand(deployment: GcpDeployment, options: FailoverCommandOptions): string {
  const { spec } = deployment;
  const zone = options.zone ?? deployment.zones[0]!;
  const { kill, restart } = faultCommands(deployment, zone, 'SIGKILL', options.transport);
  const q = (text: string) => `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('$', '\\$')}"`;
  return [
    `zonelab failover --target ${options.url}`,
    // The pages gcp up put in the bucket, and no more: asking beyond them would measure 404s.
    `--fault-zone ${zone} --bucket-name ${deployment.bucket} --index ${deployment.pages}`,
    `--profile ${spec.profile} --check-interval ${spec.checkIntervalSec} --check-timeout ${spec.timeoutSec} --healthy-threshold ${spec.healthyThreshold} --unhealthy-threshold ${spec.unhealthyThreshold}`,
    // A killed server's kernel refuses the health check's connection at once: the check
    // fails fast, and the report's windows are those of a check that fails (not times out).
    `--check-sees fails-fast --apply-delay ${deployment.applyDelaySec ?? GCP_APPLY_DELAY_SEC}`,
    `--command-timeout ${COMMAND_TIMEOUT_SEC}s`,
    `--kill ${q(kill)}`,
    `--restart ${q(restart)}`,
  ].join(' \\\n  ');
}
