import { ZonelabError } from '../errors.js';
import type { LoadBalancerSpec } from '../lb/index.js';

export type LbKind = 'backend-service' | 'target-pool';

/** Everything that decides what `zonelab gcp` creates; the names follow from it. */
export interface GcpDeployment {
  project: string;
  region: string;
  /** One serving VM per zone, all in `region`. */
  zones: string[];
  machineType: string;
  /** Bucket name without `gs://`. */
  bucket: string;
  /** Pages generated into the bucket when it is empty. */
  pages: number;
  lb: LbKind;
  network: string;
  namePrefix: string;
  spec: LoadBalancerSpec;
  /** Node.js release the VMs install (a version from nodejs.org/dist). */
  nodeVersion: string;
  /** File name `npm pack` gives the zonelab package (zonelab-<version>.tgz). */
  packageFile: string;
}

/** The Node.js release VMs run; any release ≥ the package's engines field works. */
export const VM_NODE_VERSION = '20.20.2';

/**
 * Google's health-check probers. Network load balancers keep client addresses, so the app
 * port is open to everyone anyway; the probers get their own rule so the health checks keep
 * working if the public rule is narrowed.
 */
export const HEALTH_CHECK_RANGES = ['35.191.0.0/16', '209.85.152.0/22', '209.85.204.0/22', '130.211.0.0/22'];

/** The VMs' own service account, with only the roles zonelab needs. */
export function serviceAccountEmail(deployment: Pick<GcpDeployment, 'namePrefix' | 'project'>): string {
  return `${deployment.namePrefix}-vms@${deployment.project}.iam.gserviceaccount.com`;
}

/** Roles the VMs' service account gets on the project: read the bucket, publish and read events, write logs and metrics. */
export const VM_ROLES = ['roles/storage.objectViewer', 'roles/pubsub.publisher', 'roles/pubsub.subscriber', 'roles/logging.logWriter', 'roles/monitoring.metricWriter'];

/** Names of every resource, derived from the prefix so `down` finds what `up` made. */
export function resourceNames(deployment: Pick<GcpDeployment, 'namePrefix' | 'zones'>) {
  const p = deployment.namePrefix;
  return {
    serverTag: `${p}-server`,
    auditTag: `${p}-audit`,
    firewallApp: `${p}-allow-app`,
    firewallHealthChecks: `${p}-allow-health-checks`,
    firewallSsh: `${p}-allow-ssh`,
    address: `${p}-ip`,
    topic: `${p}-forbidden`,
    subscription: `${p}-audit`,
    auditVm: `${p}-audit`,
    serverVm: (zone: string) => `${p}-${zone}`,
    instanceGroup: (zone: string) => `${p}-ig-${zone}`,
    healthCheck: `${p}-hc`,
    backendService: `${p}-bs`,
    targetPool: `${p}-pool`,
    forwardingRule: `${p}-fr`,
    serviceAccount: `${p}-vms`,
    unit: 'zonelab-serve.service',
    auditUnit: 'zonelab-audit.service',
    packageObject: '_zonelab/zonelab.tgz',
  };
}

const RESOURCE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PROJECT_ID = /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]+$/;
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

function bad(flag: string, message: string): ZonelabError {
  return new ZonelabError('E_BAD_GCP', `${flag} ${message}`);
}

/** The two zones used when none are named: b and c exist in nearly every region (us-east1 has no a). */
export function defaultZones(region: string): string[] {
  return [`${region}-b`, `${region}-c`];
}

/**
 * Checks a deployment against Google Cloud's naming rules and what a network load balancer
 * can do, before any command runs. Throws one error naming the flag.
 */
export function validateDeployment(deployment: GcpDeployment): GcpDeployment {
  const { project, region, zones, spec } = deployment;
  if (!PROJECT_ID.test(project)) throw bad('--project', `"${project}" is not a project ID (6–30 characters: lower-case letters, digits, hyphens)`);
  if (!REGION.test(region)) throw bad('--region', `"${region}" is not a region such as us-east1`);
  if (zones.length < 2) throw bad('--zones', 'needs at least two zones, so one can fail while another serves');
  for (const zone of zones) {
    if (!new RegExp(`^${region}-[a-z]$`).test(zone)) throw bad('--zones', `"${zone}" is not a zone of ${region} (such as ${region}-b)`);
  }
  if (new Set(zones).size !== zones.length) throw bad('--zones', 'names a zone twice');
  if (!/^[a-z][a-z0-9-]{1,62}$/.test(deployment.machineType)) throw bad('--machine-type', `"${deployment.machineType}" is not a machine type such as e2-micro`);
  if (!BUCKET.test(deployment.bucket) || deployment.bucket.startsWith('goog')) {
    throw bad('--bucket', `"gs://${deployment.bucket}" is not a valid bucket name (3–63 characters: lower-case letters, digits, - _ .)`);
  }
  if (!RESOURCE_NAME.test(deployment.network)) throw bad('--network', `"${deployment.network}" is not a network name`);
  if (!/^[a-z][-a-z0-9]{1,20}$/.test(deployment.namePrefix) || deployment.namePrefix.endsWith('-')) {
    throw bad('--name-prefix', `"${deployment.namePrefix}" must be 2–21 characters: a lower-case letter, then letters, digits or hyphens, not ending in a hyphen`);
  }
  const names = resourceNames(deployment);
  for (const name of [names.firewallHealthChecks, ...zones.map(names.instanceGroup), ...zones.map(names.serverVm)]) {
    if (!RESOURCE_NAME.test(name)) throw bad('--name-prefix', `gives the resource name "${name}", which Google Cloud does not accept`);
  }
  // A network load balancer passes packets through: no proxy, so no HTTP mode, no retries and
  // no least-connections. The spec's health-check fields are the ones Google Cloud has.
  if (spec.mode !== 'tcp') throw bad('--mode', `${spec.mode} needs a proxy; a network load balancer is tcp only`);
  if (spec.balance === 'leastconn') throw bad('--balance', 'leastconn is not offered by a network load balancer (use roundrobin or source)');
  return deployment;
}

/** Spec fields a network load balancer cannot honour, for the plan's header. */
export function unsupportedSpecFields(spec: LoadBalancerSpec): string[] {
  const fields: string[] = [];
  if (spec.retries > 0) fields.push(`retries ${spec.retries}`);
  if (spec.redispatch) fields.push('redispatch');
  if (spec.observeErrors) fields.push('passive error observation');
  return fields;
}
