import { detectionBoundSec, returnBoundSec } from '../lb/index.js';
import { defaultBucket, defaultZones, type GcpDeployment, resourceNames, unsupportedSpecFields } from './deployment.js';
import type { GcpPlan } from './plan.js';

/**
 * On-demand list prices in us-east1 and us-central1 (USD per hour) of what a deployment
 * pays for while it exists, from https://cloud.google.com/compute/vm-instance-pricing,
 * https://cloud.google.com/vpc/network-pricing#ipaddress and
 * https://cloud.google.com/vpc/network-pricing#lb. Other regions differ by a few percent.
 */
const VM_PRICE: Record<string, number> = { 'e2-micro': 0.0084, 'e2-small': 0.0168, 'e2-medium': 0.0335, 'e2-standard-2': 0.067 };
const DISK_PRICE = (10 * 0.1) / 730; // a 10 GB balanced persistent disk, $0.10 per GB-month
const ADDRESS_PRICE = 0.005; // an external IPv4 address in use
const FORWARDING_RULE_PRICE = 0.025; // the first five forwarding rules

/** What the deployment costs per hour while it exists, or null for a machine type without a known price. */
export function hourlyCost(deployment: GcpDeployment): number | null {
  const vmPrice = VM_PRICE[deployment.machineType];
  if (vmPrice === undefined) return null;
  const vms = deployment.zones.length + 1;
  return vms * (vmPrice + DISK_PRICE + ADDRESS_PRICE) + ADDRESS_PRICE + FORWARDING_RULE_PRICE;
}

/** The `zonelab gcp down` line that finds this deployment again: only the flags that name resources, only when not default. */
export function downCommand(deployment: GcpDeployment): string {
  const words = ['zonelab', 'gcp', 'down', '--project', deployment.project];
  if (deployment.region !== 'us-east1') words.push('--region', deployment.region);
  if (deployment.zones.join(',') !== defaultZones(deployment.region).join(',')) words.push('--zones', deployment.zones.join(','));
  if (deployment.namePrefix !== 'zonelab') words.push('--name-prefix', deployment.namePrefix);
  if (deployment.lb !== 'backend-service') words.push('--lb', deployment.lb);
  if (deployment.bucket !== defaultBucket(deployment.project, deployment.namePrefix)) words.push('--bucket', `gs://${deployment.bucket}`);
  return words.join(' ');
}

/** The first lines of the plan and of `up`: what is created, what it costs, how to delete it. */
export function planSummary(plan: GcpPlan): string[] {
  const d = plan.deployment;
  const names = resourceNames(d);
  const vms = [...d.zones.map(names.serverVm), names.auditVm];
  const lb =
    d.lb === 'backend-service'
      ? `health check ${names.healthCheck}, ${d.zones.length} instance groups, backend service ${names.backendService}`
      : `legacy health check ${names.healthCheck}, target pool ${names.targetPool}`;
  const cost = hourlyCost(d);
  return [
    `zonelab on Google Cloud: project ${d.project}, region ${d.region}, zones ${d.zones.join(', ')}; ${plan.steps.length} steps.`,
    `creates: ${vms.length} ${d.machineType} VMs (${vms.join(', ')}); service account ${names.serviceAccount}; bucket gs://${d.bucket};`,
    `  Pub/Sub topic ${names.topic} and subscription ${names.subscription}; 3 firewall rules; static IP ${names.address};`,
    `  ${lb}; forwarding rule ${names.forwardingRule}.`,
    cost === null
      ? `costs: see https://cloud.google.com/products/calculator (no price known here for ${d.machineType})`
      : `costs: about $${cost.toFixed(3)} per hour while it exists (us-east1 list prices), $${(cost * 24).toFixed(2)} per day`,
    `delete it: ${downCommand(d)} (the bucket stays unless --delete-bucket)`,
  ];
}

/** Lines for the plan's header: what the spec means on Google Cloud. */
export function planNotes(deployment: GcpDeployment): string[] {
  const { spec } = deployment;
  const notes = [
    `load balancer: ${deployment.lb === 'backend-service' ? 'backend service (external passthrough network load balancer)' : 'target pool (legacy network load balancer)'}`,
    `profile ${spec.profile}: health check every ${spec.checkIntervalSec} s, timeout ${spec.timeoutSec} s, healthy after ${spec.healthyThreshold}, unhealthy after ${spec.unhealthyThreshold}`,
    `expected: a dead zone is noticed within ${detectionBoundSec(spec)} s, a restarted one within ${returnBoundSec(spec)} s`,
    deployment.sshFrom === 'iap'
      ? 'ssh (the fault commands): through IAP TCP forwarding only; your account needs roles/iap.tunnelResourceAccessor'
      : `ssh (the fault commands): from ${deployment.sshFrom} only`,
  ];
  const unsupported = unsupportedSpecFields(spec);
  if (unsupported.length > 0) notes.push(`not available on a network load balancer (the plan leaves them out): ${unsupported.join(', ')}`);
  return notes;
}
