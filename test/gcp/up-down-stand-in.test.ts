import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandsOf, planGcp } from '../../src/gcp/index.js';
import { testDeployment } from '../helpers/gcp-deployment.js';
import { type GcsStandIn, startGcsStandIn } from '../helpers/gcs-stand-in.js';
import { CLI_PATH, GCLOUD_STAND_IN_DIR } from '../helpers/paths.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PROJECT = 'zonelab-test-1';
const BUCKET = 'zonelab-test-pages';

interface StandInState {
  calls: string[][];
  resources: Record<string, { zone: string | null; members: string[]; startupScript: number | null }>;
  objects: string[];
  failOn: string | null;
  failMessage: string;
  unhealthyPolls: number;
}

const READS = new Set(['describe', 'list-instances', 'get-health', 'list']);
// Reads: probes, health, and the checks before step 1 (gcloud --version, auth list, projects describe).
const isRead = (call: string[]) => call[0] === '--version' || call.some((word) => READS.has(word));
// The resource a call names: the first word after the verb (`health-checks create http NAME`: after "http").
// A service account is created by name and deleted by e-mail.
const nameAfter = (call: string[], verb: string) =>
  (call.slice(call.indexOf(verb) + 1).filter((word) => !word.startsWith('--') && word !== 'http')[0] ?? '').replace(/@.*$/, '');
const normalise = (call: string[]) => call.map((word) => word.replace(/\/[^\s=]*zonelab-gcp-[^/]+/, '{work}'));

function expectedRuns(lb: 'backend-service' | 'target-pool'): string[][] {
  const deployment = testDeployment(lb, 'gcp-default', { project: PROJECT, bucket: BUCKET, pages: 20, packageFile: `zonelab-${version}.tgz` });
  return planGcp(deployment)
    .steps.filter((step) => step.run.program === 'gcloud')
    .flatMap((step) => commandsOf(step).map((command) => command.args));
}

describe('zonelab gcp up/status/down against a stand-in gcloud on PATH (not Google Cloud)', () => {
  let dir: string;
  let gcs: GcsStandIn;
  let statePath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-gcp-test-'));
    statePath = join(dir, 'gcloud-state.json');
    gcs = await startGcsStandIn(BUCKET);
  });
  after(async () => {
    await gcs.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function readState(): Promise<StandInState> {
    return JSON.parse(await readFile(statePath, 'utf8')) as StandInState;
  }
  async function setState(change: Partial<StandInState>): Promise<void> {
    await writeFile(statePath, JSON.stringify({ ...(await readState()), ...change }));
  }

  /** Runs the real CLI with the stand-ins; `calls` are the gcloud calls this run made. */
  async function zonelab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string; calls: string[][] }> {
    return zonelabWithPath(`${GCLOUD_STAND_IN_DIR}${delimiter}${process.env.PATH}`, ...args);
  }

  async function zonelabWithPath(path: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string; calls: string[][] }> {
    const callsBefore = (await readState().catch(() => null))?.calls.length ?? 0;
    const child = spawn(process.execPath, [CLI_PATH, 'gcp', ...args, '--project', PROJECT, '--bucket', `gs://${BUCKET}`], {
      env: {
        ...process.env,
        PATH: path,
        GCLOUD_STAND_IN_STATE: statePath,
        STORAGE_EMULATOR_HOST: gcs.endpoint,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (exitCode) => resolve(exitCode ?? -1));
    });
    const calls = (await readState().catch(() => null))?.calls.slice(callsBefore) ?? [];
    return { code, stdout, stderr, calls };
  }

  it('up creates every resource in the plan order, fills the bucket, waits for health and prints the failover command', async () => {
    await writeFile(statePath, JSON.stringify({ calls: [], resources: {}, objects: [], failOn: null, failMessage: '', unhealthyPolls: 2 }));
    const result = await zonelab('up', '--pages', '20', '--poll', '50ms', '--wait', '30s');
    assert.equal(result.code, 0, result.stderr);
    const runs = result.calls.filter((call) => !isRead(call)).map(normalise);
    assert.deepEqual(runs, expectedRuns('backend-service'));
    // Each probe came before its create: the firewall rule was described, then created.
    const describeAt = result.calls.findIndex((call) => call.includes('firewall-rules') && call.includes('describe'));
    const createAt = result.calls.findIndex((call) => call.includes('firewall-rules') && call.includes('create'));
    assert.ok(describeAt >= 0 && describeAt < createAt);
    // Health was asked until both backends were healthy (two unhealthy answers first).
    assert.equal(result.calls.filter((call) => call.includes('get-health')).length, 3);
    assert.match(result.stderr, /health: 0\/2 healthy \(zonelab-us-east1-b UNHEALTHY, zonelab-us-east1-c UNHEALTHY\)/);
    assert.match(result.stderr, /health: 2\/2 healthy/);
    // The pages went to the bucket through the storage client library; the package through gcloud.
    assert.equal(gcs.names().filter((name) => name.startsWith('webdir/')).length, 20);
    const state = await readState();
    assert.deepEqual(state.objects, [`gs://${BUCKET}/_zonelab/zonelab.tgz`]);
    for (const vm of ['zonelab-us-east1-b', 'zonelab-us-east1-c', 'zonelab-audit']) {
      assert.ok((state.resources[`compute instances/${vm}`]?.startupScript ?? 0) > 1000, `${vm} got its startup script`);
    }
    assert.match(result.stdout, /^load balancer: http:\/\/203\.0\.113\.7:8080$/m);
    assert.match(result.stdout, new RegExp(`curl -si http://203\\.0\\.113\\.7:8080/${BUCKET}/webdir/0\\.html`));
    assert.match(result.stdout, /zonelab failover --target http:\/\/203\.0\.113\.7:8080/);
    assert.match(result.stdout, /^tear down: +zonelab gcp down --project zonelab-test-1 --bucket gs:\/\/zonelab-test-pages$/m);
    assert.match(
      result.stdout,
      /--kill "gcloud compute ssh zonelab-us-east1-b --zone=us-east1-b --project=zonelab-test-1 --tunnel-through-iap --quiet --command='sudo systemctl kill --signal=SIGKILL zonelab-serve\.service'"/,
    );
    // Before step 1: what is created, what it costs, how to delete it, and who gcloud is.
    assert.match(result.stderr, /^zonelab on Google Cloud: project zonelab-test-1, region us-east1, zones us-east1-b, us-east1-c; 30 steps\.$/m);
    assert.match(result.stderr, /^costs: about \$0\.0\d\d per hour/m);
    assert.match(result.stderr, /^gcloud acts as student@example\.com$/m);
    assert.deepEqual(result.calls.slice(0, 3).map((call) => call.slice(0, 2).join(' ')), ['--version', 'auth list', 'projects describe']);
  });

  it('the package up uploaded carries npm-shrinkwrap.json, and installing it the way the VMs do gives exactly the locked tree', async () => {
    const uploaded = `${statePath}.uploads/_zonelab/zonelab.tgz`;
    const files = execFileSync('tar', ['-tzf', uploaded], { encoding: 'utf8' }).split('\n');
    assert.ok(files.includes('package/npm-shrinkwrap.json'), files.join(' '));
    assert.ok(files.includes('package/dist/src/cli/main.js'));
    assert.ok(!files.some((file) => file.startsWith('package/test/') || file.startsWith('package/dist/test/')), 'no tests in the package');
    // The startup script's install: unpack, then npm ci without the optional SQLite addon.
    const app = join(dir, 'app');
    await mkdir(app);
    execFileSync('tar', ['-xzf', uploaded, '-C', app, '--strip-components=1']);
    execFileSync('npm', ['ci', '--omit=dev', '--omit=optional', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, stdio: 'pipe' });
    const lock = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; dev?: boolean; optional?: boolean }>;
    };
    assert.equal(existsSync(join(app, 'node_modules', 'better-sqlite3')), false, 'no native addon on a VM');
    const wrong: string[] = [];
    let checked = 0;
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '' || entry.dev || entry.optional) continue;
      const installed = await readFile(join(app, path, 'package.json'), 'utf8').then((text) => (JSON.parse(text) as { version: string }).version, () => 'missing');
      if (installed !== entry.version) wrong.push(`${path}: locked ${entry.version}, installed ${installed}`);
      checked++;
    }
    assert.deepEqual(wrong, []);
    assert.ok(checked > 250, `${checked} packages checked`);
    // No development-only or optional package came along (the shrinkwrap lists them, marked).
    const devOnly = Object.entries(lock.packages).filter(([path, entry]) => path !== '' && (entry.dev || entry.optional)).map(([path]) => path);
    for (const path of devOnly) assert.equal(await readFile(join(app, path, 'package.json')).catch(() => null), null, `${path} installed`);
    // And the checkout is left as it was: the shrinkwrap exists only inside the package.
    assert.equal(await readFile(join(PACKAGE_ROOT, 'npm-shrinkwrap.json')).catch(() => null), null);
  });

  it('up run again creates nothing and keeps the filled bucket', async () => {
    const objectsBefore = gcs.names().length;
    const result = await zonelab('up', '--pages', '20', '--poll', '50ms', '--wait', '30s');
    assert.equal(result.code, 0, result.stderr);
    // Only the steps that are safe to repeat ran again: enabling APIs, granting roles, packing and uploading zonelab.
    const creates = result.calls.filter((call) => call.includes('create') || call.includes('add-instances') || call.includes('add-backend'));
    assert.deepEqual(creates, []);
    assert.match(result.stderr, /\[19\/30\] VM zonelab-us-east1-b in us-east1-b: exists, kept/);
    assert.match(result.stderr, /already holds objects; nothing uploaded/);
    assert.equal(gcs.names().length, objectsBefore);
  });

  it('status shows the address, the VMs with their zones, and backend health', async () => {
    const result = await zonelab('status');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /load balancer: http:\/\/203\.0\.113\.7:8080/);
    assert.match(result.stdout, /zonelab-us-east1-b\s+us-east1-b\s+RUNNING/);
    assert.match(result.stdout, /zonelab-us-east1-c\s+us-east1-c\s+RUNNING/);
    assert.match(result.stdout, /zonelab-us-east1-c\s+HEALTHY/);
  });

  it('down deletes in the reverse order of creation, keeps the bucket, and says what it deleted', async () => {
    const created = (await readState()).calls.filter((call) => call.includes('create')).map((call) => nameAfter(call, 'create'));
    const result = await zonelab('down');
    assert.equal(result.code, 0, result.stderr);
    const deleted = result.calls.filter((call) => call.includes('delete')).map((call) => nameAfter(call, 'delete'));
    assert.deepEqual(deleted, created.filter((name) => !name.startsWith('gs://')).reverse());
    assert.equal(deleted[0], 'zonelab-fr');
    assert.equal(deleted.at(-1), 'zonelab-vms');
    assert.match(result.stdout, /^deleted 16 resources: forwarding rule zonelab-fr; /);
    assert.match(result.stdout, new RegExp(`kept: bucket gs://${BUCKET}`));
    assert.deepEqual(Object.keys((await readState()).resources), [`storage buckets/gs://${BUCKET}`]);

    const again = await zonelab('down', '--delete-bucket');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^deleted 1 resource: bucket gs:\/\//);
    assert.match(again.stderr, /forwarding rule zonelab-fr: not there/);
    assert.deepEqual((await readState()).resources, {});
  });

  it('a failure midway stops up with the failing command and its message; the next up finishes what is missing', async () => {
    await setState({
      failOn: 'backend-services create',
      failMessage: [
        'WARNING: a warning gcloud printed first',
        'ERROR: (gcloud.compute.backend-services.create) Could not fetch resource:',
        " - Quota 'BACKEND_SERVICES' exceeded.  Limit: 0.0 in region us-east1.",
        '',
        'a last line of detail',
      ].join('\n'),
    });
    const failed = await zonelab('up', '--pages', '20', '--poll', '50ms', '--wait', '30s');
    assert.equal(failed.code, 1);
    // gcloud's first error line (what went wrong) and its last line, not only the tail.
    assert.match(
      failed.stderr,
      /zonelab: step 27\/30 \(backend service zonelab-bs\) failed: gcloud compute backend-services create zonelab-bs --region=us-east1 .*: ERROR: \(gcloud\.compute\.backend-services\.create\) Could not fetch resource: … a last line of detail\. Fix the cause/,
    );
    assert.ok(!failed.calls.some((call) => call.includes('forwarding-rules') && call.includes('create')), 'nothing after the failing step ran');
    assert.equal(failed.stdout, '');

    await setState({ failOn: null });
    const resumed = await zonelab('up', '--pages', '20', '--poll', '50ms', '--wait', '30s');
    assert.equal(resumed.code, 0, resumed.stderr);
    const created = resumed.calls.filter((call) => call.includes('create') || call.includes('add-backend')).map((call) => call.slice(0, 4).join(' '));
    assert.deepEqual(created, [
      'compute backend-services create zonelab-bs',
      'compute backend-services add-backend zonelab-bs',
      'compute backend-services add-backend zonelab-bs',
      'compute forwarding-rules create zonelab-fr',
    ]);
    const down = await zonelab('down', '--delete-bucket');
    assert.equal(down.code, 0, down.stderr);
  });

  it('the target-pool load balancer: legacy health check, pool members per zone, health from the pool', async () => {
    await writeFile(statePath, JSON.stringify({ calls: [], resources: {}, objects: [], failOn: null, failMessage: '', unhealthyPolls: 0 }));
    const up = await zonelab('up', '--lb', 'target-pool', '--pages', '20', '--poll', '50ms', '--wait', '30s');
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(up.calls.filter((call) => !isRead(call)).map(normalise), expectedRuns('target-pool'));
    assert.match(up.stderr, /health: 2\/2 healthy/);
    const down = await zonelab('down', '--lb', 'target-pool');
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(Object.keys((await readState()).resources), [`storage buckets/gs://${BUCKET}`]);
  });

  it('checks before step 1 that gcloud is installed, logged in and sees the project, with one line and nothing created', async () => {
    await writeFile(statePath, JSON.stringify({ calls: [], resources: {}, objects: [], failOn: null, failMessage: '', unhealthyPolls: 0 }));
    const emptyPath = join(dir, 'no-gcloud');
    await mkdir(emptyPath, { recursive: true });
    for (const command of ['up', 'status', 'down']) {
      const missing = await zonelabWithPath(emptyPath, command);
      assert.equal(missing.code, 1, command);
      assert.equal(missing.stderr, 'zonelab: gcloud is not installed (or not on PATH): install the Google Cloud CLI, https://cloud.google.com/sdk/docs/install\n', command);
    }
    await setState({ account: null } as Partial<StandInState>);
    const loggedOut = await zonelab('up');
    assert.equal(loggedOut.code, 1);
    assert.equal(loggedOut.stderr, 'zonelab: gcloud is not logged in: run "gcloud auth login"\n');
    await setState({ account: 'student@example.com', hiddenProjects: [PROJECT] } as Partial<StandInState>);
    const hidden = await zonelab('status');
    assert.equal(hidden.code, 1);
    assert.match(hidden.stderr, /^zonelab: gcloud, logged in as student@example\.com, cannot see project zonelab-test-1: ERROR: \(gcloud\.projects\.describe\) \[student@example\.com\] does not have permission/);
    assert.equal(hidden.stderr.split('\n').length, 2, hidden.stderr);
    assert.deepEqual((await readState()).resources, {});
    assert.ok((await readState()).calls.every(isRead), 'only the checks ran');
  });

  it('checks every limit before running a single gcloud command', async () => {
    await writeFile(statePath, JSON.stringify({ calls: [], resources: {}, objects: [], failOn: null, failMessage: '', unhealthyPolls: 0 }));
    for (const [flags, message] of [
      [['--check-interval', '301'], /--check-interval\) must be an integer from 1 to 300/],
      [['--check-timeout', '6'], /timeoutSec \(--check-timeout\) must not exceed checkIntervalSec \(5\)/],
      [['--unhealthy-threshold', '11'], /--unhealthy-threshold\) must be an integer from 1 to 10/],
      [['--zones', 'us-east1-b,us-west1-a'], /not a zone of us-east1/],
      [['--mode', 'http'], /network load balancer is tcp only/],
    ] as const) {
      const result = await zonelab('up', ...flags);
      assert.equal(result.code, 1, flags.join(' '));
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.deepEqual(result.calls, [], `no gcloud call for ${flags.join(' ')}`);
    }
  });
});
