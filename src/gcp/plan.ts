import { type GcpDeployment, HEALTH_CHECK_RANGES, IAP_TCP_RANGE, resourceNames, serviceAccountEmail, VM_GRANTS } from './deployment.js';
import { renderStartupScript } from './vm-files.js';

/** Stands for the folder the plan's files are written to (a temporary folder). */
export const WORK = '{work}';
/** Stands for the value of a step that runs once per value (`PlanStep.each`). */
export const EACH = '{each}';

export type Program = 'gcloud' | 'zonelab' | 'npm';

export interface PlanCommand {
  program: Program;
  args: string[];
  /** Runs in the zonelab package's own folder (npm pack). */
  inPackage?: boolean;
}

/** Asks whether a step's resource exists: it does when the command succeeds and, with `member`, lists it. */
export interface Probe extends PlanCommand {
  member?: string;
}

export interface PlanStep {
  title: string;
  /** Why the step is there, one line: the plan script's comment. */
  why: string;
  run: PlanCommand;
  /** `up` skips the step when the probe finds the resource; steps without one are safe to repeat. */
  probe?: Probe;
  /** How `down` deletes the resource (when the probe finds it). */
  remove?: PlanCommand;
  /**
   * Tried again for 90 s when it fails (GRANT_RETRY_DELAYS_MS): IAM needs up to a minute or
   * more before a new service account can be granted roles.
   */
  retries?: boolean;
  /** Run once per value, with EACH in `run` replaced by it (a shell loop over `$<name>` in the script). */
  each?: { name: string; values: readonly string[] };
  /** A resource `down` keeps unless told otherwise (the bucket: it may hold more than zonelab put there). */
  keptByDefault?: boolean;
}

export interface GcpPlan {
  deployment: GcpDeployment;
  /** Files the steps read from WORK. */
  files: { name: string; content: string }[];
  steps: PlanStep[];
}

const gcloud = (...args: string[]): PlanCommand => ({ program: 'gcloud', args });

/**
 * Firewall rules are evaluated by priority, the lowest number first, and the first match
 * decides. The `default` network comes with default-allow-ssh (tcp:22 from 0.0.0.0/0,
 * priority 65534), and the VMs have external addresses, so without a deny of its own a
 * deployment's ssh port would be open to the internet whatever its allow rule says. The
 * allow (IAP or --ssh-from) comes first, then the deny, then the default rule.
 * https://cloud.google.com/vpc/docs/firewalls
 */
export const SSH_ALLOW_PRIORITY = 1000;
export const SSH_DENY_PRIORITY = 1100;

/**
 * The VMs' boot disk: balanced persistent disk, the type the cost line prices. Without the
 * flag, `instances create` makes a pd-standard disk.
 * https://cloud.google.com/sdk/gcloud/reference/compute/instances/create
 */
export const BOOT_DISK_TYPE = 'pd-balanced';

/**
 * The waits before each new try of a grant: 90 s in all. A new service account "might not
 * be usable for 60 seconds or more" (https://cloud.google.com/iam/docs/service-accounts-create),
 * and until it is, granting it a role fails with "does not exist".
 */
export const GRANT_RETRY_DELAYS_MS: readonly number[] = [5000, 10_000, 15_000, 20_000, 20_000, 20_000];

/** Pure: the ordered commands that build the deployment, with how to probe and delete each resource. */
export function planGcp(deployment: GcpDeployment): GcpPlan {
  const { project, region, zones, spec } = deployment;
  const names = resourceNames(deployment);
  const p = `--project=${project}`;
  const r = `--region=${region}`;
  const steps: PlanStep[] = [];
  const add = (step: PlanStep) => steps.push(step);
  const regional = (kind: string, name: string, ...extra: string[]) => ({
    probe: gcloud('compute', kind, 'describe', name, r, p, '--format=value(name)'),
    remove: gcloud('compute', kind, 'delete', name, r, p, '--quiet', ...extra),
  });
  const global = (kind: string, name: string) => ({
    probe: gcloud('compute', kind, 'describe', name, p, '--format=value(name)'),
    remove: gcloud('compute', kind, 'delete', name, p, '--quiet'),
  });

  const iap = deployment.sshFrom === 'iap';
  add({
    title: `enable the Compute Engine, IAM, Pub/Sub, Cloud Storage, Cloud Logging, Cloud Monitoring${iap ? ' and IAP' : ''} APIs`,
    why: `a new project has none of them on (Cloud Monitoring takes the Ops Agent's metrics${iap ? '; IAP carries ssh' : ''})`,
    run: gcloud(
      'services', 'enable', 'compute.googleapis.com', 'iam.googleapis.com', 'pubsub.googleapis.com', 'storage.googleapis.com',
      'logging.googleapis.com', 'monitoring.googleapis.com', ...(iap ? ['iap.googleapis.com'] : []), p,
    ),
  });
  const account = serviceAccountEmail(deployment);
  add({
    title: `service account ${names.serviceAccount}`,
    why: 'the VMs act as this account, which holds only the roles below',
    run: gcloud('iam', 'service-accounts', 'create', names.serviceAccount, p, '--display-name=zonelab VMs'),
    probe: gcloud('iam', 'service-accounts', 'describe', account, p, '--format=value(email)'),
    remove: gcloud('iam', 'service-accounts', 'delete', account, p, '--quiet'),
  });
  const member = `--member=serviceAccount:${account}`;
  const grant = (on: string, roles: readonly string[], why: string, ...command: string[]) =>
    add({
      title: `grant ${roles.join(', ')} on ${on} to ${names.serviceAccount}`,
      why: `${why}; granting a role twice changes nothing`,
      run: gcloud(...command, member, `--role=${EACH}`, p, '--quiet', '--format=none'),
      each: { name: 'role', values: roles },
      retries: true,
    });
  grant('the project', VM_GRANTS.project, 'write logs and metrics (the Ops Agent)', 'projects', 'add-iam-policy-binding', project, '--condition=None');
  add({
    title: `bucket gs://${deployment.bucket}`,
    why: 'the pages the servers serve, and the zonelab package the VMs install',
    run: gcloud('storage', 'buckets', 'create', `gs://${deployment.bucket}`, p, `--location=${region}`, '--uniform-bucket-level-access'),
    probe: gcloud('storage', 'buckets', 'describe', `gs://${deployment.bucket}`, p, '--format=value(name)'),
    remove: gcloud('storage', 'rm', '--recursive', `gs://${deployment.bucket}`, p),
    keptByDefault: true,
  });
  grant(`gs://${deployment.bucket}`, VM_GRANTS.bucket, 'read the pages and the package, on this bucket only', 'storage', 'buckets', 'add-iam-policy-binding', `gs://${deployment.bucket}`);
  add({
    title: `generate ${deployment.pages} pages`,
    why: 'the same pages as the local lab (deterministic for the seed)',
    run: { program: 'zonelab', args: ['bucket', 'generate', `--out=${WORK}/pages`, `--count=${deployment.pages}`, '--if-missing'] },
  });
  add({
    title: `upload the pages to gs://${deployment.bucket} (only when it is empty)`,
    why: 'a bucket that already holds objects is left as it is',
    run: { program: 'zonelab', args: ['bucket', 'upload', `--from=${WORK}/pages`, `--to=gs://${deployment.bucket}`, '--if-empty'] },
  });
  add({
    title: `pack zonelab (${deployment.packageFile})`,
    why: 'the VMs install exactly this build',
    run: { program: 'npm', args: ['pack', '--silent', `--pack-destination=${WORK}`], inPackage: true },
  });
  add({
    title: `upload the package to gs://${deployment.bucket}/${names.packageObject}`,
    why: "each VM's startup script fetches it with the VM's service account",
    run: gcloud('storage', 'cp', `${WORK}/${deployment.packageFile}`, `gs://${deployment.bucket}/${names.packageObject}`, p),
  });
  add({
    title: `Pub/Sub topic ${names.topic}`,
    why: 'the servers publish one event per forbidden request here',
    run: gcloud('pubsub', 'topics', 'create', names.topic, p),
    probe: gcloud('pubsub', 'topics', 'describe', names.topic, p, '--format=value(name)'),
    remove: gcloud('pubsub', 'topics', 'delete', names.topic, p, '--quiet'),
  });
  grant(`topic ${names.topic}`, VM_GRANTS.topic, 'publish, and check the topic exists, on this topic only', 'pubsub', 'topics', 'add-iam-policy-binding', names.topic);
  add({
    title: `Pub/Sub subscription ${names.subscription}`,
    why: 'the audit VM reads the events from it and prints each once',
    run: gcloud('pubsub', 'subscriptions', 'create', names.subscription, `--topic=${names.topic}`, '--ack-deadline=60', p),
    probe: gcloud('pubsub', 'subscriptions', 'describe', names.subscription, p, '--format=value(name)'),
    remove: gcloud('pubsub', 'subscriptions', 'delete', names.subscription, p, '--quiet'),
  });
  grant(`subscription ${names.subscription}`, VM_GRANTS.subscription, 'pull, and check the subscription exists, on this subscription only', 'pubsub', 'subscriptions', 'add-iam-policy-binding', names.subscription);
  const firewall = (name: string, why: string, rule: { action?: 'ALLOW' | 'DENY'; priority?: number; ports: string; sources: string[]; tags: string[] }) =>
    add({
      title: `firewall rule ${name}`,
      why,
      run: gcloud(
        'compute', 'firewall-rules', 'create', name, p, `--network=${deployment.network}`, '--direction=INGRESS', `--action=${rule.action ?? 'ALLOW'}`,
        `--rules=${rule.ports}`, `--source-ranges=${rule.sources.join(',')}`, `--target-tags=${rule.tags.join(',')}`,
        ...(rule.priority === undefined ? [] : [`--priority=${rule.priority}`]),
      ),
      ...global('firewall-rules', name),
    });
  firewall(
    names.firewallApp,
    'a network load balancer passes packets through with the client address kept, so the app port is open to clients',
    { ports: `tcp:${spec.port}`, sources: ['0.0.0.0/0'], tags: [names.serverTag] },
  );
  firewall(
    names.firewallHealthChecks,
    "Google's health-check probers, from the ranges documented for this load balancer kind",
    { ports: `tcp:${spec.port}`, sources: HEALTH_CHECK_RANGES[deployment.lb], tags: [names.serverTag] },
  );
  firewall(
    names.firewallSsh,
    iap
      ? 'gcloud compute ssh, which the fault and restart commands use, through IAP TCP forwarding only'
      : `gcloud compute ssh, which the fault and restart commands use, from ${deployment.sshFrom} only`,
    { priority: SSH_ALLOW_PRIORITY, ports: 'tcp:22', sources: [iap ? IAP_TCP_RANGE : deployment.sshFrom], tags: [names.serverTag, names.auditTag] },
  );
  firewall(
    names.firewallSshDeny,
    "the default network's default-allow-ssh opens port 22 to the internet (priority 65534); this rule, between it and the allow above, closes it on these VMs",
    { action: 'DENY', priority: SSH_DENY_PRIORITY, ports: 'tcp:22', sources: ['0.0.0.0/0'], tags: [names.serverTag, names.auditTag] },
  );
  add({
    title: `static regional IP ${names.address}`,
    why: 'the load balancer keeps its address when it is re-created',
    run: gcloud('compute', 'addresses', 'create', names.address, r, p),
    ...regional('addresses', names.address),
  });
  const vm = (name: string, zone: string, role: 'serve' | 'audit', tag: string, why: string) =>
    add({
      title: `VM ${name} in ${zone}`,
      why,
      run: gcloud(
        'compute', 'instances', 'create', name, p, `--zone=${zone}`, `--machine-type=${deployment.machineType}`,
        `--network=${deployment.network}`, '--image-family=debian-12', '--image-project=debian-cloud', `--boot-disk-type=${BOOT_DISK_TYPE}`, `--tags=${tag}`,
        `--service-account=${account}`, '--scopes=cloud-platform',
        `--metadata-from-file=startup-script=${WORK}/startup-${role}.sh`, `--labels=zonelab=${deployment.namePrefix}`,
      ),
      probe: gcloud('compute', 'instances', 'describe', name, `--zone=${zone}`, p, '--format=value(name)'),
      remove: gcloud('compute', 'instances', 'delete', name, `--zone=${zone}`, p, '--quiet'),
    });
  for (const zone of zones) vm(names.serverVm(zone), zone, 'serve', names.serverTag, `runs zonelab serve in ${zone}`);
  vm(names.auditVm, zones[0]!, 'audit', names.auditTag, 'runs zonelab audit: prints every forbidden request once');

  const checkFlags = [
    `--port=${spec.port}`,
    `--request-path=${spec.requestPath}`,
    `--check-interval=${spec.checkIntervalSec}s`,
    `--timeout=${spec.timeoutSec}s`,
    `--healthy-threshold=${spec.healthyThreshold}`,
    `--unhealthy-threshold=${spec.unhealthyThreshold}`,
  ];
  const affinity = spec.balance === 'source' ? ['--session-affinity=CLIENT_IP'] : [];
  // The backend service's connection tracking policy: without it, TCP connections on a VM
  // marked unhealthy persist (DEFAULT_FOR_PROTOCOL). NEVER_PERSIST drops them, so a client
  // that keeps its connections open is moved as soon as the health check decides.
  // https://cloud.google.com/load-balancing/docs/network/ext-netlb-traffic-distribution
  const persistence = deployment.connectionPersistence === 'never' ? ['--connection-persistence-on-unhealthy-backends=NEVER_PERSIST'] : [];
  if (deployment.lb === 'backend-service') {
    add({
      title: `regional health check ${names.healthCheck}`,
      why: `GET ${spec.requestPath} every ${spec.checkIntervalSec} s; ${spec.unhealthyThreshold} failures mark a VM unhealthy, ${spec.healthyThreshold} successes healthy`,
      run: gcloud('compute', 'health-checks', 'create', 'http', names.healthCheck, r, p, ...checkFlags),
      ...regional('health-checks', names.healthCheck),
    });
    for (const zone of zones) {
      const group = names.instanceGroup(zone);
      add({
        title: `instance group ${group}`,
        why: 'a backend service balances over instance groups, one per zone',
        run: gcloud('compute', 'instance-groups', 'unmanaged', 'create', group, `--zone=${zone}`, p),
        probe: gcloud('compute', 'instance-groups', 'unmanaged', 'describe', group, `--zone=${zone}`, p, '--format=value(name)'),
        remove: gcloud('compute', 'instance-groups', 'unmanaged', 'delete', group, `--zone=${zone}`, p, '--quiet'),
      });
      add({
        title: `put ${names.serverVm(zone)} in ${group}`,
        why: 'the group holds the zone’s server',
        run: gcloud('compute', 'instance-groups', 'unmanaged', 'add-instances', group, `--zone=${zone}`, `--instances=${names.serverVm(zone)}`, p),
        probe: {
          ...gcloud('compute', 'instance-groups', 'unmanaged', 'list-instances', group, `--zone=${zone}`, p, '--format=value(instance.basename())'),
          member: names.serverVm(zone),
        },
      });
    }
    add({
      title: `backend service ${names.backendService}`,
      why: 'the network load balancer: external, TCP, pass-through, with the health check',
      run: gcloud(
        'compute', 'backend-services', 'create', names.backendService, r, p, '--load-balancing-scheme=EXTERNAL', '--protocol=TCP',
        `--health-checks=${names.healthCheck}`, `--health-checks-region=${region}`, ...affinity, ...persistence,
      ),
      ...regional('backend-services', names.backendService),
    });
    for (const zone of zones) {
      const group = names.instanceGroup(zone);
      add({
        title: `backend ${group} of ${names.backendService}`,
        why: `traffic reaches ${zone} through its group`,
        run: gcloud('compute', 'backend-services', 'add-backend', names.backendService, r, p, `--instance-group=${group}`, `--instance-group-zone=${zone}`),
        probe: {
          ...gcloud('compute', 'backend-services', 'describe', names.backendService, r, p, '--format=value(backends[].group)'),
          member: `zones/${zone}/instanceGroups/${group}`,
        },
      });
    }
  } else {
    add({
      title: `legacy HTTP health check ${names.healthCheck}`,
      why: `target pools take only legacy checks: GET ${spec.requestPath} every ${spec.checkIntervalSec} s, ${spec.unhealthyThreshold} failures mark a VM unhealthy`,
      run: gcloud('compute', 'http-health-checks', 'create', names.healthCheck, p, ...checkFlags),
      ...global('http-health-checks', names.healthCheck),
    });
    add({
      title: `target pool ${names.targetPool}`,
      why: 'the legacy network load balancer: a pool of VMs with the health check',
      run: gcloud('compute', 'target-pools', 'create', names.targetPool, r, p, `--http-health-check=${names.healthCheck}`, ...affinity),
      ...regional('target-pools', names.targetPool),
    });
    for (const zone of zones) {
      add({
        title: `put ${names.serverVm(zone)} in ${names.targetPool}`,
        why: `traffic reaches ${zone}`,
        run: gcloud('compute', 'target-pools', 'add-instances', names.targetPool, r, p, `--instances=${names.serverVm(zone)}`, `--instances-zone=${zone}`),
        probe: {
          ...gcloud('compute', 'target-pools', 'describe', names.targetPool, r, p, '--format=value(instances[])'),
          member: `zones/${zone}/instances/${names.serverVm(zone)}`,
        },
      });
    }
  }
  add({
    title: `forwarding rule ${names.forwardingRule}`,
    why: `the load balancer's front: ${names.address}, TCP port ${spec.port}`,
    run: gcloud(
      'compute', 'forwarding-rules', 'create', names.forwardingRule, r, p, '--load-balancing-scheme=EXTERNAL', '--ip-protocol=TCP',
      `--ports=${spec.port}`, `--address=${names.address}`,
      deployment.lb === 'backend-service' ? `--backend-service=${names.backendService}` : `--target-pool=${names.targetPool}`,
    ),
    ...regional('forwarding-rules', names.forwardingRule),
  });

  return {
    deployment,
    files: [
      { name: 'startup-serve.sh', content: renderStartupScript(deployment, 'serve') },
      { name: 'startup-audit.sh', content: renderStartupScript(deployment, 'audit') },
    ],
    steps,
  };
}

/** The command that lists each backend's health as JSON. */
export function healthCommand(deployment: GcpDeployment): PlanCommand {
  const names = resourceNames(deployment);
  const [kind, name] = deployment.lb === 'backend-service' ? ['backend-services', names.backendService] : ['target-pools', names.targetPool];
  return gcloud('compute', kind, 'get-health', name, `--region=${deployment.region}`, `--project=${deployment.project}`, '--format=json');
}

export function addressCommand(deployment: GcpDeployment): PlanCommand {
  const names = resourceNames(deployment);
  return gcloud('compute', 'addresses', 'describe', names.address, `--region=${deployment.region}`, `--project=${deployment.project}`, '--format=value(address)');
}

export function instancesCommand(deployment: GcpDeployment): PlanCommand {
  return gcloud(
    'compute', 'instances', 'list', `--project=${deployment.project}`, `--filter=labels.zonelab=${deployment.namePrefix}`,
    '--format=value(name,zone.basename(),status)',
  );
}

/** What `up` and `status` ask before anything else: is gcloud there, logged in, and can it see the project? */
export function preflightCommands(deployment: Pick<GcpDeployment, 'project'>): { version: PlanCommand; account: PlanCommand; project: PlanCommand; defaultProject: PlanCommand } {
  return {
    version: gcloud('--version'),
    account: gcloud('auth', 'list', '--filter=status:ACTIVE', '--format=value(account)'),
    project: gcloud('projects', 'describe', deployment.project, '--format=value(projectId)'),
    defaultProject: gcloud('config', 'get-value', 'project'),
  };
}

/** The commands of a step: its command, or one per value with EACH replaced. */
export function commandsOf(step: PlanStep): PlanCommand[] {
  if (!step.each) return [step.run];
  return step.each.values.map((value) => ({ ...step.run, args: step.run.args.map((argument) => argument.replaceAll(EACH, value)) }));
}
