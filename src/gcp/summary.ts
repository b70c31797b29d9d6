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

/**
 * What a measurement adds while it runs, on top of the hourly cost: the pages leave Google
 * Cloud (Premium Tier internet egress, $0.12 per GB to North America,
 * https://cloud.google.com/vpc/network-pricing), and a server asks Cloud Storage for an
 * object it has not cached, or has cached for longer than its revalidation period (a
 * Class B operation each, $0.0004 per 1,000, https://cloud.google.com/storage/pricing).
 */
const EGRESS_PRICE_PER_GB = 0.12;
const CLASS_B_PRICE = 0.0004 / 1000;
/** A generated page (about 5.6 KB) with its response headers. */
const BYTES_PER_ANSWER = 6000;
/** The rate `zonelab failover` sends at by default. */
const MEASUREMENT_RATE = 100;

/** Class B operations of a read the cache cannot answer: the object's metadata, then its content (src/storage/gcs.ts). */
const OPERATIONS_PER_MISS = 2;

/** Per hour of measuring at `rate` requests per second: egress, and Cloud Storage reads at their worst (every request a miss). */
export function measurementCost(rate = MEASUREMENT_RATE): { egressGbPerHour: number; egress: number; storageReadsAtMost: number } {
  const egressGbPerHour = (rate * 3600 * BYTES_PER_ANSWER) / 1e9;
  return { egressGbPerHour, egress: egressGbPerHour * EGRESS_PRICE_PER_GB, storageReadsAtMost: rate * 3600 * OPERATIONS_PER_MISS * CLASS_B_PRICE };
}

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

function measuring(): string {
  const { egressGbPerHour, egress, storageReadsAtMost } = measurementCost();
  return (
    `  measuring adds, per hour at ${MEASUREMENT_RATE} requests/s: about $${egress.toFixed(2)} of internet egress (${egressGbPerHour.toFixed(1)} GB of pages) ` +
    `and at most $${storageReadsAtMost.toFixed(2)} of Cloud Storage reads (fewer once the servers have the pages cached)`
  );
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
    `  Pub/Sub topic ${names.topic} and subscription ${names.subscription}; 4 firewall rules; static IP ${names.address};`,
    `  ${lb}; forwarding rule ${names.forwardingRule}.`,
    cost === null
      ? `costs: see https://cloud.google.com/products/calculator (no price known here for ${d.machineType})`
      : `costs: about $${cost.toFixed(3)} per hour while it exists (us-east1 list prices), $${(cost * 24).toFixed(2)} per day`,
    measuring(),
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
  notes.push(
    deployment.connectionPersistence === 'never'
      ? 'established connections on a VM marked unhealthy are dropped (NEVER_PERSIST): a keep-alive client is moved when the health check decides'
      : 'established connections on a VM marked unhealthy persist (the default; target pools likewise): a failover with --keepalive measures the client\'s own timeout there, not the load balancer (--connection-persistence never, backend service only)',
  );
  const unsupported = unsupportedSpecFields(spec);
  if (unsupported.length > 0) notes.push(`not available on a network load balancer (the plan leaves them out): ${unsupported.join(', ')}`);
  return notes;
}
