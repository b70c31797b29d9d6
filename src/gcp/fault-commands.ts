import { resourceNames, type GcpDeployment } from './deployment.js';

/** How long, on the VM, the restart command waits for the server to answer its health check. */
export const REMOTE_READY_TIMEOUT_SEC = 120;

/**
 * How long `zonelab failover` lets the kill and restart commands run on this machine
 * (`--command-timeout`): the remote wait plus a minute for the ssh connection (an IAP
 * tunnel takes seconds to open) and the unit's start, so the local limit never cuts a
 * restart that the VM would still have completed.
 */
export const COMMAND_TIMEOUT_SEC = REMOTE_READY_TIMEOUT_SEC + 60;

/**
 * Shell commands that fault and restore the server of one zone over `gcloud compute ssh`
 * (through IAP unless the deployment admits ssh from a CIDR range). systemd never restarts
 * the server (see the unit), so it stays down until `restart`, which returns only once the
 * server answers its health check on the VM.
 */
export function faultCommands(deployment: GcpDeployment, zone: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): { kill: string; restart: string } {
  const names = resourceNames(deployment);
  const tunnel = deployment.sshFrom === 'iap' ? ' --tunnel-through-iap' : '';
  const ssh = `gcloud compute ssh ${names.serverVm(zone)} --zone=${zone} --project=${deployment.project}${tunnel} --quiet --command`;
  const ready = `until curl -fsS -o /dev/null http://127.0.0.1:${deployment.spec.port}${deployment.spec.requestPath}; do sleep 0.2; done`;
  return {
    kill: `${ssh}='sudo systemctl kill --signal=${signal} ${names.unit}'`,
    restart: `${ssh}='sudo systemctl start ${names.unit} && timeout ${REMOTE_READY_TIMEOUT_SEC} sh -c "${ready}"'`,
  };
}

/** The `zonelab failover` command that measures this deployment, with the spec's values as its bounds. */
export function failoverCommand(deployment: GcpDeployment, address: string, zone = deployment.zones[0]!): string {
  const { spec } = deployment;
  const { kill, restart } = faultCommands(deployment, zone);
  const q = (text: string) => `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('$', '\\$')}"`;
  return [
    `zonelab failover --target http://${address}:${spec.port}`,
    `--fault-zone ${zone} --bucket-name ${deployment.bucket}`,
    `--profile ${spec.profile} --check-interval ${spec.checkIntervalSec} --timeout ${spec.timeoutSec} --healthy-threshold ${spec.healthyThreshold} --unhealthy-threshold ${spec.unhealthyThreshold}`,
    `--command-timeout ${COMMAND_TIMEOUT_SEC}s`,
    `--kill ${q(kill)}`,
    `--restart ${q(restart)}`,
  ].join(' \\\n  ');
}
