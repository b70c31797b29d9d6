import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPubsubRemote, createPubsubSubscriber } from '../../src/bus/index.js';
import { isZonelabError } from '../../src/errors.js';
import { VM_GRANTS } from '../../src/gcp/index.js';
import { createGcsStore } from '../../src/storage/index.js';
import { type GcsStandIn, startGcsStandIn } from '../helpers/gcs-stand-in.js';
import { CLI_PATH } from '../helpers/paths.js';
import { type PubsubStandIn, startPubsubStandIn } from '../helpers/pubsub-stand-in.js';

/**
 * The permissions of each role the plan grants, as Google documents them (the ones these
 * calls can need): https://cloud.google.com/storage/docs/access-control/iam-roles and
 * https://cloud.google.com/pubsub/docs/access-control#roles. Neither objectViewer nor the
 * Pub/Sub publisher and subscriber roles hold the `get` permissions of their resource.
 */
const ROLE_PERMISSIONS: Record<string, string[]> = {
  'roles/storage.objectViewer': ['storage.objects.get', 'storage.objects.list', 'storage.folders.get', 'storage.folders.list'],
  'roles/pubsub.publisher': ['pubsub.topics.publish'],
  'roles/pubsub.subscriber': ['pubsub.subscriptions.consume', 'pubsub.topics.attachSubscription', 'pubsub.snapshots.seek'],
  'roles/pubsub.viewer': ['pubsub.topics.get', 'pubsub.topics.list', 'pubsub.subscriptions.get', 'pubsub.subscriptions.list', 'pubsub.snapshots.get', 'pubsub.schemas.get'],
  'roles/logging.logWriter': ['logging.logEntries.create'],
  'roles/monitoring.metricWriter': ['monitoring.timeSeries.create'],
};

function permissionsOf(roles: readonly string[]): Set<string> {
  return new Set(roles.flatMap((role) => ROLE_PERMISSIONS[role] ?? assert.fail(`no permissions listed for ${role}`)));
}

/** Everything the plan grants the VMs' service account, on any resource (each stand-in serves one resource of its kind). */
const GRANTED = permissionsOf([...VM_GRANTS.project, ...VM_GRANTS.bucket, ...VM_GRANTS.topic, ...VM_GRANTS.subscription]);

function without(permission: string): Set<string> {
  const set = new Set(GRANTED);
  set.delete(permission);
  return set;
}

describe("the VMs' grants against the client libraries' start-up checks (stand-ins for Cloud Storage and Pub/Sub with their IAM)", () => {
  let gcs: GcsStandIn;
  let pubsub: PubsubStandIn;
  const saved = { storage: process.env.STORAGE_EMULATOR_HOST, pubsub: process.env.PUBSUB_EMULATOR_HOST };

  before(async () => {
    gcs = await startGcsStandIn('zonelab-iam');
    gcs.put('webdir/0.html', '<p>zero</p>');
    pubsub = await startPubsubStandIn();
    pubsub.addTopic('zonelab-demo-1', 'zonelab-forbidden');
    pubsub.addSubscription('zonelab-demo-1', 'zonelab-audit', 'zonelab-forbidden');
    process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
    process.env.PUBSUB_EMULATOR_HOST = pubsub.host;
  });
  after(async () => {
    for (const [name, value] of [['STORAGE_EMULATOR_HOST', saved.storage], ['PUBSUB_EMULATOR_HOST', saved.pubsub]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await gcs.close();
    await pubsub.close();
  });

  it('the bucket check and reads need only roles/storage.objectViewer, granted on the bucket', async () => {
    gcs.granted = permissionsOf(VM_GRANTS.bucket);
    const store = await createGcsStore({ bucket: 'zonelab-iam' });
    assert.equal((await store.get('webdir/0.html'))?.body.toString(), '<p>zero</p>');
    assert.ok(!gcs.requests.some((line) => line === 'GET /storage/v1/b/zonelab-iam'), 'no bucket metadata read (storage.buckets.get)');
  });

  it('a bucket the credentials cannot list stops the server with one line naming storage.objects.list', async () => {
    gcs.granted = without('storage.objects.list');
    await assert.rejects(createGcsStore({ bucket: 'zonelab-iam' }), (error) => {
      assert.ok(isZonelabError(error, 'E_PERMISSION_DENIED'), String(error));
      assert.match(error.message, /lack storage\.objects\.list on gs:\/\/zonelab-iam \(grant roles\/storage\.objectViewer on the bucket/);
      return true;
    });
  });

  it('the topic check and publishing need the publisher and viewer roles, granted on the topic', async () => {
    pubsub.granted = permissionsOf(VM_GRANTS.topic);
    const remote = await createPubsubRemote({ project: 'zonelab-demo-1', topic: 'zonelab-forbidden' });
    try {
      await remote.publish([{ id: 'e1', at: '2026-11-26T00:00:00.000Z', country: 'Cuba', clientIp: '192.0.2.1', method: 'GET', path: '/b/w/1.html', zone: 'z', instance: 'i' }]);
      assert.equal(pubsub.published.get('projects/zonelab-demo-1/topics/zonelab-forbidden')?.length, 1);
    } finally {
      await remote.close();
    }
  });

  it('without pubsub.topics.get the server stops with one line that names it and the role', async () => {
    pubsub.granted = without('pubsub.topics.get');
    await assert.rejects(createPubsubRemote({ project: 'zonelab-demo-1', topic: 'zonelab-forbidden' }), (error) => {
      assert.ok(isZonelabError(error, 'E_PERMISSION_DENIED'), String(error));
      assert.match(error.message, /lack pubsub\.topics\.get on topic projects\/zonelab-demo-1\/topics\/zonelab-forbidden \(grant roles\/pubsub\.viewer/);
      return true;
    });
  });

  it('the subscription check needs the viewer role on the subscription; without it, one line naming pubsub.subscriptions.get', async () => {
    pubsub.granted = permissionsOf(VM_GRANTS.subscription);
    const subscriber = await createPubsubSubscriber({ project: 'zonelab-demo-1', subscription: 'zonelab-audit' });
    await subscriber.close();
    pubsub.granted = permissionsOf(['roles/pubsub.subscriber']);
    await assert.rejects(createPubsubSubscriber({ project: 'zonelab-demo-1', subscription: 'zonelab-audit' }), /lack pubsub\.subscriptions\.get on subscription projects\/zonelab-demo-1\/subscriptions\/zonelab-audit/);
  });

  it('zonelab serve as a VM runs it: starts with the grants, and without one exits 1 with one line naming the permission', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zonelab-iam-'));
    const run = (wait: (line: string) => boolean, ...extra: string[]) =>
      new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [CLI_PATH, 'serve', '--host', '127.0.0.1', '--port', '0', '--zone', 'us-east1-b', '--instance', 'zonelab-us-east1-b',
            '--bucket', 'gs://zonelab-iam', '--bus', 'pubsub:projects/zonelab-demo-1/topics/zonelab-forbidden', '--outbox', join(dir, 'outbox.db'), ...extra],
          { env: { ...process.env, GCE_METADATA_HOST: '127.0.0.1:9' }, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
          if (wait(stdout)) child.kill('SIGKILL');
        });
        child.stderr.on('data', (chunk) => {
          stderr += chunk;
        });
        // A server that neither starts nor fails is stopped, and the test says so.
        const timer = setTimeout(() => {
          stderr += '\n(test: still running after 30 s; killed)';
          child.kill('SIGKILL');
        }, 30_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stderr, stdout });
        });
      });
    try {
      gcs.granted = GRANTED;
      pubsub.granted = GRANTED;
      const started = await run((out) => out.includes('"message":"serving gs://zonelab-iam'));
      assert.match(started.stdout, /serving gs:\/\/zonelab-iam/, started.stderr);
      pubsub.granted = without('pubsub.topics.get');
      const refused = await run(() => false);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^zonelab: the credentials in use lack pubsub\.topics\.get on topic projects\/zonelab-demo-1\/topics\/zonelab-forbidden \(grant roles\/pubsub\.viewer on it; zonelab gcp up does so for its VMs\)\n$/);
      // As on a VM (--access-wait): a grant still on its way is waited out, a line per try.
      pubsub.granted = GRANTED;
      gcs.grantDelayMs = 1500;
      pubsub.grantDelayMs = 1500;
      const waited = await run((out) => out.includes('"message":"serving gs://zonelab-iam'), '--access-wait', '60');
      assert.match(waited.stdout, /serving gs:\/\/zonelab-iam/, waited.stderr);
      const retries = waited.stdout.split('\n').filter((line) => line.includes('refused these credentials'));
      assert.ok(retries.some((line) => line.includes('"message":"gs://zonelab-iam refused these credentials')), waited.stdout);
      assert.ok(retries.some((line) => line.includes('"message":"pubsub:projects/zonelab-demo-1/topics/zonelab-forbidden refused these credentials')), waited.stdout);
      assert.ok(retries.every((line) => JSON.parse(line).severity === 'WARNING'), waited.stdout);
      assert.ok(gcs.refusedBeforeGrant > 0 && pubsub.refusedBeforeGrant > 0);
      // A wait that ends before the grant arrives stops the server as before, saying how long it tried.
      const later = await startPubsubStandIn();
      try {
        later.addTopic('zonelab-demo-1', 'zonelab-forbidden');
        later.grantDelayMs = 60_000;
        process.env.PUBSUB_EMULATOR_HOST = later.host;
        const gaveUp = await run(() => false, '--access-wait', '1');
        assert.equal(gaveUp.code, 1);
        assert.match(gaveUp.stderr, /^zonelab: the credentials in use lack pubsub\.topics\.get .* \(still refused after \d+ s and \d+ tr(y|ies)\)\n$/);
      } finally {
        process.env.PUBSUB_EMULATOR_HOST = pubsub.host;
        await later.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
