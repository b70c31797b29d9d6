import { ZonelabError } from '../errors.js';
import type { LoadBalancerSpec } from '../lb/index.js';
import { DEPLOYMENT_PREFIX } from '../server/index.js';

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
  /**
   * Who may reach the VMs' ssh port: `iap` (Google's IAP TCP forwarding, the default: no
   * address on the internet can) or a CIDR range such as `203.0.113.0/24`.
   */
  sshFrom: 'iap' | string;
  /**
   * What happens to established connections on a VM the health check marks unhealthy:
   * `default` (DEFAULT_FOR_PROTOCOL: TCP connections persist, so a keep-alive client keeps
   * talking to a dead or partitioned VM until its own timeout) or `never` (NEVER_PERSIST:
   * they are dropped). Backend services only; target pools have no such setting.
   */
  connectionPersistence?: 'default' | 'never';
  /**
   * Seconds allowed for Google Cloud to apply a health verdict (not documented): the
   * servers drain that much longer, and the printed failover command states it. Default
   * GCP_APPLY_DELAY_SEC.
   */
  applyDelaySec?: number;
}

/**
 * The Node.js release the VMs run: a Node 24 LTS release, the same one `.ci/run` tests
 * with (a test keeps the two equal), so what is deployed is what was tested. Its own
 * `node:sqlite` holds the outbox, so a VM builds no native addon (see src/sqlite/open.ts).
 * (Node.js 26's binaries also link libatomic.so.1, which the startup script would then
 * have to install; 24's do not.)
 */
export const VM_NODE_VERSION = '24.21.0';

/**
 * Where Google's health-check probers connect from, per load-balancer kind: both kinds of
 * external passthrough network load balancer (backend service with a regional health
 * check; target pool with a legacy one) probe from these three ranges. 130.211.0.0/22 is
 * for proxy and internal load balancers and is left out.
 * https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges
 * https://cloud.google.com/load-balancing/docs/firewall-rules
 */
const NETWORK_LB_PROBERS = ['35.191.0.0/16', '209.85.152.0/22', '209.85.204.0/22'];
export const HEALTH_CHECK_RANGES: Record<LbKind, string[]> = { 'backend-service': NETWORK_LB_PROBERS, 'target-pool': NETWORK_LB_PROBERS };

/**
 * Where IAP TCP forwarding (`gcloud compute ssh --tunnel-through-iap`) connects from.
 * https://cloud.google.com/iap/docs/using-tcp-forwarding#create-firewall-rule
 */
export const IAP_TCP_RANGE = '35.235.240.0/20';

/** The VMs' own service account, with only the roles zonelab needs. */
export function serviceAccountEmail(deployment: Pick<GcpDeployment, 'namePrefix' | 'project'>): string {
  return `${deployment.namePrefix}-vms@${deployment.project}.iam.gserviceaccount.com`;
}

/**
 * What the VMs' service account is granted, each role on the narrowest resource that
 * works. Writing logs and metrics is granted on the project (they have no other resource).
 * The rest is granted on the bucket, the topic and the subscription only:
 * - roles/storage.objectViewer on the bucket: read the pages and the package, and list
 *   objects, which is how a server checks at start-up that its bucket is there
 *   (storage.objects.list; storage.buckets.get is not in the role);
 * - roles/pubsub.publisher + roles/pubsub.viewer on the topic: publish, and check at
 *   start-up that the topic exists (pubsub.topics.get is only in the viewer role);
 * - roles/pubsub.subscriber + roles/pubsub.viewer on the subscription: pull, and check at
 *   start-up that it exists (pubsub.subscriptions.get).
 * https://cloud.google.com/storage/docs/access-control/iam-roles
 * https://cloud.google.com/pubsub/docs/access-control#roles
 */
export const VM_GRANTS = {
  project: ['roles/logging.logWriter', 'roles/monitoring.metricWriter'],
  bucket: ['roles/storage.objectViewer'],
  topic: ['roles/pubsub.publisher', 'roles/pubsub.viewer'],
  subscription: ['roles/pubsub.subscriber', 'roles/pubsub.viewer'],
} as const;

/** Names of every resource, derived from the prefix so `down` finds what `up` made. */
export function resourceNames(deployment: Pick<GcpDeployment, 'namePrefix' | 'zones'>) {
  const p = deployment.namePrefix;
  return {
    serverTag: `${p}-server`,
    auditTag: `${p}-audit`,
    firewallApp: `${p}-allow-app`,
    firewallHealthChecks: `${p}-allow-health-checks`,
    firewallSsh: `${p}-allow-ssh`,
    firewallSshDeny: `${p}-deny-ssh`,
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
    /** Under the prefix the servers never serve, so the package is not public through the load balancer. */
    packageObject: `${DEPLOYMENT_PREFIX}zonelab.tgz`,
  };
}

const RESOURCE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PROJECT_ID = /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]+$/;
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

function bad(flag: string, message: string): ZonelabError {
  return new ZonelabError('E_BAD_GCP', `${flag} ${message}`);
}

/** The bucket used when none is named: `<project>-<name prefix>` (bucket names are global). */
export function defaultBucket(project: string, namePrefix: string): string {
  return `${project}-${namePrefix}`;
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
  if (deployment.sshFrom !== 'iap' && !isCidr(deployment.sshFrom)) {
    throw bad('--ssh-from', `"${deployment.sshFrom}" is neither iap nor an IPv4 range such as 203.0.113.0/24`);
  }
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
  if (deployment.connectionPersistence === 'never' && deployment.lb !== 'backend-service') {
    throw bad('--connection-persistence', 'never needs --lb backend-service: a target pool has no connection tracking policy');
  }
  return deployment;
}

function isCidr(value: string): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return false;
  return match.slice(1, 5).every((octet) => Number(octet) <= 255) && Number(match[5]) <= 32;
}

/** Spec fields a network load balancer cannot honour, for the plan's header. */
export function unsupportedSpecFields(spec: LoadBalancerSpec): string[] {
  const fields: string[] = [];
  if (spec.retries > 0) fields.push(`retries ${spec.retries}`);
  if (spec.redispatch) fields.push('redispatch');
  if (spec.observeErrors) fields.push('passive error observation');
  return fields;
}
