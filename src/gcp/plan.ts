import { detectionBoundSec, returnBoundSec } from '../lb/index.js';
import { type GcpDeployment, HEALTH_CHECK_RANGES, resourceNames, serviceAccountEmail, unsupportedSpecFields, VM_ROLES } from './deployment.js';
import { renderStartupScript } from './vm-files.js';

/** Stands for the folder the plan's files are written to (a temporary folder). */
export const WORK = '{work}';

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
   * Tried again (every 5 s, 6 times in all) when it fails: IAM needs a few seconds before a
   * new service account can be granted roles.
   */
  retries?: boolean;
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

  add({
    title: 'enable the Compute Engine, Pub/Sub, Cloud Storage and Cloud Logging APIs',
    why: 'a new project has none of them on',
    run: gcloud('services', 'enable', 'compute.googleapis.com', 'iam.googleapis.com', 'pubsub.googleapis.com', 'storage.googleapis.com', 'logging.googleapis.com', p),
  });
  const account = serviceAccountEmail(deployment);
  add({
    title: `service account ${names.serviceAccount}`,
    why: 'the VMs act as this account, which holds only the roles below',
    run: gcloud('iam', 'service-accounts', 'create', names.serviceAccount, p, '--display-name=zonelab VMs'),
    probe: gcloud('iam', 'service-accounts', 'describe', account, p, '--format=value(email)'),
    remove: gcloud('iam', 'service-accounts', 'delete', account, p, '--quiet'),
  });
  for (const role of VM_ROLES) {
    add({
      title: `grant ${role} to ${names.serviceAccount}`,
      why: 'granting a role twice changes nothing',
      run: gcloud('projects', 'add-iam-policy-binding', project, `--member=serviceAccount:${account}`, `--role=${role}`, '--condition=None', '--quiet', '--format=none'),
      retries: true,
    });
  }
  add({
    title: `bucket gs://${deployment.bucket}`,
    why: 'the pages the servers serve, and the zonelab package the VMs install',
    run: gcloud('storage', 'buckets', 'create', `gs://${deployment.bucket}`, p, `--location=${region}`, '--uniform-bucket-level-access'),
    probe: gcloud('storage', 'buckets', 'describe', `gs://${deployment.bucket}`, p, '--format=value(name)'),
    remove: gcloud('storage', 'rm', '--recursive', `gs://${deployment.bucket}`, p),
    keptByDefault: true,
  });
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
  add({
    title: `Pub/Sub subscription ${names.subscription}`,
    why: 'the audit VM reads the events from it and prints each once',
    run: gcloud('pubsub', 'subscriptions', 'create', names.subscription, `--topic=${names.topic}`, '--ack-deadline=60', p),
    probe: gcloud('pubsub', 'subscriptions', 'describe', names.subscription, p, '--format=value(name)'),
    remove: gcloud('pubsub', 'subscriptions', 'delete', names.subscription, p, '--quiet'),
  });
  const firewall = (name: string, why: string, ports: string, sources: string[], tags: string[]) =>
    add({
      title: `firewall rule ${name}`,
      why,
      run: gcloud(
        'compute', 'firewall-rules', 'create', name, p, `--network=${deployment.network}`, '--direction=INGRESS', '--action=ALLOW',
        `--rules=${ports}`, `--source-ranges=${sources.join(',')}`, `--target-tags=${tags.join(',')}`,
      ),
      ...global('firewall-rules', name),
    });
  firewall(
    names.firewallApp,
    'a network load balancer passes packets through with the client address kept, so the app port is open to clients',
    `tcp:${spec.port}`, ['0.0.0.0/0'], [names.serverTag],
  );
  firewall(names.firewallHealthChecks, "Google's health-check probers", `tcp:${spec.port}`, HEALTH_CHECK_RANGES, [names.serverTag]);
  firewall(names.firewallSsh, 'gcloud compute ssh, which the fault and restart commands use', 'tcp:22', ['0.0.0.0/0'], [names.serverTag, names.auditTag]);
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
        `--network=${deployment.network}`, '--image-family=debian-12', '--image-project=debian-cloud', `--tags=${tag}`,
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
        `--health-checks=${names.healthCheck}`, `--health-checks-region=${region}`, ...affinity,
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

/**
 * Shell commands that fault and restore the server of one zone over `gcloud compute ssh`.
 * systemd never restarts the server (see the unit), so it stays down until `restart`, which
 * returns only once the server answers its health check.
 */
export function faultCommands(deployment: GcpDeployment, zone: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): { kill: string; restart: string } {
  const names = resourceNames(deployment);
  const ssh = `gcloud compute ssh ${names.serverVm(zone)} --zone=${zone} --project=${deployment.project} --quiet --command`;
  const ready = `until curl -fsS -o /dev/null http://127.0.0.1:${deployment.spec.port}${deployment.spec.requestPath}; do sleep 0.2; done`;
  return {
    kill: `${ssh}='sudo systemctl kill --signal=${signal} ${names.unit}'`,
    restart: `${ssh}='sudo systemctl start ${names.unit} && timeout 120 sh -c "${ready}"'`,
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
    `--kill ${q(kill)}`,
    `--restart ${q(restart)}`,
  ].join(' \\\n  ');
}

/** Lines for the plan's header: what the spec means on Google Cloud. */
export function planNotes(deployment: GcpDeployment): string[] {
  const { spec } = deployment;
  const notes = [
    `load balancer: ${deployment.lb === 'backend-service' ? 'backend service (external passthrough network load balancer)' : 'target pool (legacy network load balancer)'}`,
    `profile ${spec.profile}: health check every ${spec.checkIntervalSec} s, timeout ${spec.timeoutSec} s, healthy after ${spec.healthyThreshold}, unhealthy after ${spec.unhealthyThreshold}`,
    `expected: a dead zone is noticed within ${detectionBoundSec(spec)} s, a restarted one within ${returnBoundSec(spec)} s`,
  ];
  const unsupported = unsupportedSpecFields(spec);
  if (unsupported.length > 0) notes.push(`not available on a network load balancer (the plan leaves them out): ${unsupported.join(', ')}`);
  return notes;
}
