import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import {
  checkGcloud,
  defaultBucket,
  defaultZones,
  downCommand,
  failoverCommand,
  type GcpDeployment,
  type LbKind,
  planGcp,
  planSummary,
  processRunner,
  readAddress,
  readHealth,
  readInstances,
  renderPlanScript,
  runPlan,
  tearDown,
  VM_NODE_VERSION,
  validateDeployment,
  waitUntilHealthy,
} from '../gcp/index.js';
import { ZonelabError } from '../errors.js';
import { GCP_APPLY_DELAY_SEC } from '../lb/index.js';
import { durationOption, integerIn, numberIn, parsePort, zoneList } from './option-parsers.js';
import { examples } from './examples.js';
import { interruptible } from './signals.js';
import { addSpecOptions, type SpecFlags, specFromFlags } from './spec-options.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

interface GcpFlags extends SpecFlags {
  project: string;
  region: string;
  zones?: string[];
  machineType: string;
  bucket?: string;
  lb: LbKind;
  network: string;
  namePrefix: string;
  pages: number;
  port: number;
  sshFrom: string;
  connectionPersistence: 'default' | 'never';
  applyDelay: number;
}

function addDeploymentOptions(command: Command): Command {
  return addSpecOptions(
    command
      .requiredOption('--project <id>', 'Google Cloud project ID')
      .option('--region <region>', 'region of the load balancer and the VMs', 'us-east1')
      .option('--zones <list>', 'zones of the serving VMs, one VM each (default: <region>-b,<region>-c)', zoneList(2))
      .option('--machine-type <type>', 'machine type of the VMs', 'e2-micro')
      .option('--bucket <gs://name>', 'bucket the servers serve; created and filled when missing or empty (default: gs://<project>-<name-prefix>)')
      .addOption(
        new Option('--lb <kind>', 'backend-service (regional health check, one instance group per zone) or target-pool (legacy HTTP health check)')
          .choices(['backend-service', 'target-pool'])
          .default('backend-service'),
      )
      .option('--network <name>', 'VPC network of the VMs and firewall rules', 'default')
      .option('--name-prefix <prefix>', 'prefix of every resource name (a second deployment needs another)', 'zonelab')
      .option('--pages <n>', 'pages generated into an empty bucket', integerIn(1, 1_000_000), 10_000)
      .option('--port <n>', 'port the servers listen on and the load balancer forwards', parsePort, 8080)
      .option(
        '--ssh-from <iap|cidr>',
        'who may reach the VMs\' ssh port, which the fault commands use: iap (IAP TCP forwarding from 35.235.240.0/20, gcloud compute ssh --tunnel-through-iap) or an IPv4 range such as 203.0.113.0/24',
        'iap',
      )
      .addOption(
        new Option(
          '--connection-persistence <when>',
          'what a backend service does with established connections on a VM its health check marks unhealthy: default (they persist, so a keep-alive client stays on a dead VM until its own timeout) or never (NEVER_PERSIST: they are dropped and new ones go to a healthy VM); backend-service only',
        )
          .choices(['default', 'never'])
          .default('default'),
      )
      .option(
        '--apply-delay <s>',
        'seconds allowed for Google Cloud to apply a health verdict, which it does not document: the servers drain that much longer, and the printed failover command holds the run to windows that long',
        numberIn(0, 600),
        GCP_APPLY_DELAY_SEC,
      ),
    'gcp-default',
  );
}

function deploymentFromFlags(flags: GcpFlags): GcpDeployment {
  const bucket = flags.bucket ?? `gs://${defaultBucket(flags.project, flags.namePrefix)}`;
  if (!/^gs:\/\/[^/]+\/?$/.test(bucket)) throw new ZonelabError('E_BAD_GCP', `--bucket "${bucket}" is not a gs://name URL (a whole bucket, no folder)`);
  return validateDeployment({
    project: flags.project,
    region: flags.region,
    zones: flags.zones ?? defaultZones(flags.region),
    machineType: flags.machineType,
    bucket: bucket.slice('gs://'.length).replace(/\/$/, ''),
    pages: flags.pages,
    lb: flags.lb,
    network: flags.network,
    namePrefix: flags.namePrefix,
    spec: { ...specFromFlags(flags), port: flags.port },
    nodeVersion: VM_NODE_VERSION,
    packageFile: `zonelab-${version}.tgz`,
    sshFrom: flags.sshFrom,
    connectionPersistence: flags.connectionPersistence,
    applyDelaySec: flags.applyDelay,
  });
}

const STOPPING_MESSAGE = 'interrupted: stopping after the command that is running (run the same command again to go on)…';

const say = (line: string) => process.stderr.write(`${line}\n`);

export function registerGcp(program: Command): void {
  const gcp = program
    .command('gcp')
    .description(
      'the same experiment on Google Cloud: one VM per zone running zonelab serve, one running zonelab audit, behind a ' +
        'network load balancer built from the same load-balancer spec. Runs the gcloud CLI, which must be installed and ' +
        'logged in (gcloud auth login; gcloud auth application-default login for the bucket upload). See docs/gcp.md.',
    );

  addDeploymentOptions(
    gcp
      .command('plan')
      .summary('print the gcloud commands of the deployment as a shell script')
      .description('print, in order, every command "up" runs, as a bash script that can be read, copied and run. Nothing is run.'),
  )
    .addHelpText(
      'after',
      examples([
        ['read what up would do in project my-course-123', 'zonelab gcp plan --project my-course-123'],
        ['the same with one-second checks, saved as a script', 'zonelab gcp plan --project my-course-123 --profile fast > deploy.sh'],
      ]),
    )
    .action((flags: GcpFlags) => {
    process.stdout.write(renderPlanScript(planGcp(deploymentFromFlags(flags))));
  });

  addDeploymentOptions(
    gcp
      .command('up')
      .summary('create the deployment, wait until every backend is healthy, print how to measure it')
      .description(
        'run the plan step by step, skipping resources that exist (a failed up is simply run again), wait until the load ' +
          'balancer reports every serving VM HEALTHY, then print its address, a curl line and the zonelab failover command ' +
          'for this deployment.',
      )
      .addOption(durationOption('--wait <duration>', 'how long to wait for healthy backends (the VMs install Node.js first)', 600_000, '10m'))
      .addOption(durationOption('--poll <duration>', 'how often to ask the load balancer for backend health', 5000, '5s')),
  )
    .addHelpText(
      'after',
      examples([
        ['the assignment\'s deployment in us-east1 (about 5 minutes: the VMs install Node.js and zonelab)', 'zonelab gcp up --project my-course-123'],
        ['in another region, with one-second checks', 'zonelab gcp up --project my-course-123 --region europe-west1 --profile fast'],
      ]),
    )
    .action(async (flags: GcpFlags & { wait: number; poll: number }) => {
    const deployment = deploymentFromFlags(flags);
    const plan = planGcp(deployment);
    const workDir = await mkdtemp(join(tmpdir(), 'zonelab-gcp-'));
    const { signal, release } = interruptible(STOPPING_MESSAGE);
    try {
      const options = { runner: processRunner(workDir), onLine: say, signal, workDir, healthWaitMs: flags.wait, healthPollMs: flags.poll };
      const account = await checkGcloud(plan, options.runner);
      for (const line of planSummary(plan)) say(line);
      say(`gcloud acts as ${account}`);
      await runPlan(plan, options);
      await waitUntilHealthy(plan, options);
      const address = await readAddress(plan, options.runner);
      if (!address) throw new ZonelabError('E_GCLOUD', 'the load balancer has no address (the static IP is missing)');
      const url = `http://${address}:${deployment.spec.port}`;
      console.log(
        [
          `load balancer: ${url}`,
          `try it:        curl -si ${url}/${deployment.bucket}/webdir/0.html | grep -i '^x-zone'`,
          'measure failover:',
          `  ${failoverCommand(deployment, { url })}`,
          `tear down:     ${downCommand(deployment)}`,
        ].join('\n'),
      );
    } finally {
      release();
      await rm(workDir, { recursive: true, force: true });
    }
  });

  addDeploymentOptions(
    gcp
      .command('status')
      .summary('backend health, the load balancer address and the VMs')
      .description(
        'print the load balancer\'s address, every VM of the deployment with its zone and state, and how the load balancer ' +
          'sees each backend (HEALTHY, UNHEALTHY, or UNKNOWN before its first verdict). Changes nothing.',
      ),
  )
    .addHelpText('after', examples([['how the deployment of project my-course-123 is doing', 'zonelab gcp status --project my-course-123']]))
    .action(async (flags: GcpFlags) => {
    const plan = planGcp(deploymentFromFlags(flags));
    const runner = processRunner(tmpdir());
    await checkGcloud(plan, runner);
    const address = await readAddress(plan, runner);
    const vms = await readInstances(plan, runner);
    console.log(`load balancer: ${address ? `http://${address}:${plan.deployment.spec.port}` : 'none (no static IP)'}`);
    console.log(vms.length === 0 ? 'VMs: none' : `VMs:\n${vms.map((vm) => `  ${vm.name.padEnd(32)} ${vm.zone.padEnd(16)} ${vm.status}`).join('\n')}`);
    try {
      const health = await readHealth(plan, runner);
      console.log(`backends:\n${health.map((backend) => `  ${backend.instance.padEnd(32)} ${backend.state}`).join('\n') || '  none reported'}`);
    } catch (error) {
      if (!(error instanceof ZonelabError)) throw error;
      console.log(`backends: none (${error.message.split(': ').at(-1)})`);
    }
  });

  addDeploymentOptions(
    gcp
      .command('down')
      .summary('delete everything up created, in reverse order')
      .description('delete every resource of the deployment that exists, newest first, and say what was deleted. The bucket is kept unless --delete-bucket.')
      .option('--delete-bucket', 'also delete the bucket and every object in it', false),
  )
    .addHelpText(
      'after',
      examples([
        ['delete everything up created, keeping the bucket', 'zonelab gcp down --project my-course-123'],
        ['the bucket too', 'zonelab gcp down --project my-course-123 --delete-bucket'],
      ]),
    )
    .action(async (flags: GcpFlags & { deleteBucket: boolean }) => {
    const plan = planGcp(deploymentFromFlags(flags));
    const { signal, release } = interruptible(STOPPING_MESSAGE);
    try {
      const runner = processRunner(tmpdir());
      await checkGcloud(plan, runner);
      const report = await tearDown(plan, { runner, onLine: say, signal, deleteBucket: flags.deleteBucket });
      console.log(
        `deleted ${report.deleted.length} resource${report.deleted.length === 1 ? '' : 's'}` +
          (report.deleted.length ? `: ${report.deleted.join('; ')}` : '') +
          (report.kept.length ? `\nkept: ${report.kept.join('; ')}` : ''),
      );
    } finally {
      release();
    }
  });
}
