import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { isZonelabError } from '../../src/errors.js';
import { discoverIdentity, type MetadataRetry } from '../../src/server/index.js';
import { runCli } from '../helpers/cli.js';
import { httpRequest } from '../helpers/http.js';
import { startMetadataStandIn } from '../helpers/metadata-stand-in.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { makeTempBucket } from '../helpers/temp-bucket.js';

describe('zone and instance discovery (stand-ins for the GCE metadata server on loopback; DMI product names from files)', () => {
  // DMI strings as files, the way /sys/class/dmi/id holds them: a Compute Engine VM's, a
  // Google BIOS alone, and a machine of another maker's.
  let dir: string;
  let google: string;
  let googleBios: string;
  let notGoogle: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-dmi-'));
    [google, googleBios, notGoogle] = ['google', 'google-bios', 'not-google'].map((name) => join(dir, name)) as [string, string, string];
    for (const folder of [google, googleBios, notGoogle]) await mkdir(folder);
    await writeFile(join(google, 'product_name'), 'Google Compute Engine\n');
    await writeFile(join(googleBios, 'product_name'), 'Standard PC\n');
    await writeFile(join(googleBios, 'bios_vendor'), 'Google\n');
    await writeFile(join(notGoogle, 'product_name'), 'Standard PC (Q35 + ICH9, 2009)\n');
    await writeFile(join(notGoogle, 'bios_vendor'), 'SeaBIOS\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));
  // Nothing listens on port 9 (discard) on loopback: a metadata host that never answers.
  const NOWHERE = '127.0.0.1:9';
  it('reads zone and name from a metadata stand-in, keeping the last segment of the zone', async () => {
    const metadata = await startMetadataStandIn({ zone: 'projects/123456/zones/us-east1-c', name: 'zonelab-c' });
    try {
      const identity = await discoverIdentity({ env: { GCE_METADATA_HOST: metadata.host } });
      assert.equal(identity.zone, 'us-east1-c');
      assert.equal(identity.instance, 'zonelab-c');
      assert.deepEqual(identity.source, { zone: 'metadata', instance: 'metadata' });
      assert.ok(metadata.requests.every((request) => request.flavor === 'Google'));
    } finally {
      await metadata.close();
    }
  });

  it('prefers --zone over ZONE over the metadata server, and asks it only for what is unknown', async () => {
    const metadata = await startMetadataStandIn({ zone: 'projects/1/zones/meta-zone', name: 'meta-name' });
    try {
      const env = { GCE_METADATA_HOST: metadata.host, ZONE: 'env-zone' };
      assert.equal((await discoverIdentity({ env })).zone, 'env-zone');
      assert.equal((await discoverIdentity({ env, zone: 'flag-zone' })).zone, 'flag-zone');
      const before = metadata.requests.length;
      const both = await discoverIdentity({ env, zone: 'flag-zone', instance: 'flag-name' });
      assert.deepEqual([both.zone, both.instance], ['flag-zone', 'flag-name']);
      assert.equal(metadata.requests.length, before);
    } finally {
      await metadata.close();
    }
  });

  it('off Google Cloud (no metadata host named, not a Google machine, nothing answers) falls back at once to "local" and the hostname', async () => {
    const retries: MetadataRetry[] = [];
    const identity = await discoverIdentity({ env: {}, metadataHost: NOWHERE, dmiDir: notGoogle, onRetry: (retry) => retries.push(retry) });
    assert.equal(identity.zone, 'local');
    assert.equal(identity.source.instance, 'hostname');
    assert.equal(identity.googleCloud, null);
    assert.deepEqual(retries, [], 'one short ask, no retries');
  });

  it('on a VM whose metadata stand-in answers the zone late, keeps asking with back-off and gets the real zone', async () => {
    // The stand-in leaves the zone unanswered for 1.5 s (a VM busy booting), the name comes at once.
    const metadata = await startMetadataStandIn({ zone: 'projects/1/zones/us-east1-c', name: 'zonelab-us-east1-c', lateMs: { zone: 1500 } });
    try {
      const retries: MetadataRetry[] = [];
      const identity = await discoverIdentity({ env: { GCE_METADATA_HOST: metadata.host }, dmiDir: notGoogle, onRetry: (retry) => retries.push(retry) });
      assert.deepEqual([identity.zone, identity.instance], ['us-east1-c', 'zonelab-us-east1-c']);
      assert.match(identity.googleCloud ?? '', /GCE_METADATA_HOST/);
      assert.ok(retries.length >= 1, 'asked again');
      assert.ok(retries.every((retry) => retry.missing.join() === 'zone'), 'only the zone was asked again');
      assert.ok(retries.every((retry, i) => i === 0 || retry.waitMs >= retries[i - 1]!.waitMs), 'the waits grow');
    } finally {
      await metadata.close();
    }
  });

  it('on a Google machine (DMI product name, or a Google BIOS) whose metadata stand-in never answers, keeps asking for its patience, then refuses instead of making up a zone', async () => {
    const metadata = await startMetadataStandIn({ silent: true });
    try {
      for (const [dmiDir, why] of [[google, /the machine is a "Google Compute Engine"/], [googleBios, /its firmware is Google's/]] as const) {
        const started = performance.now();
        const before = metadata.requests.length;
        await assert.rejects(
          discoverIdentity({ env: {}, metadataHost: metadata.host, dmiDir, metadataTimeoutMs: 100, metadataPatienceMs: 1500 }),
          (error: unknown) => isZonelabError(error, 'E_NO_IDENTITY') && why.test((error as Error).message) && /no zone and no name within 1.5 s/.test((error as Error).message),
        );
        assert.ok(performance.now() - started >= 1500, 'the whole patience');
        assert.ok(metadata.requests.length - before >= 6, `asked again and again: ${metadata.requests.length - before} requests`);
      }
    } finally {
      await metadata.close();
    }
  });

  it('a metadata stand-in that answers the name but never the zone is taken as Google Cloud: no "local" zone', async () => {
    const metadata = await startMetadataStandIn({ name: 'vm-x', lateMs: { zone: 60_000 } });
    try {
      await assert.rejects(
        discoverIdentity({ env: {}, metadataHost: metadata.host, dmiDir: notGoogle, metadataTimeoutMs: 100, metadataPatienceMs: 800 }),
        (error: unknown) => isZonelabError(error, 'E_NO_IDENTITY') && /no zone within/.test((error as Error).message),
      );
    } finally {
      await metadata.close();
    }
  });

  it('ignores answers without Metadata-Flavor: Google', async () => {
    const sockets = new Set<Socket>();
    const impostor = createServer((socket) => {
      sockets.add(socket);
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 24\r\nConnection: close\r\n\r\nprojects/1/zones/spoofed');
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const port = (impostor.address() as { port: number }).port;
      // Named as the metadata server, but its answers are not the metadata server's: never taken.
      await assert.rejects(
        discoverIdentity({ env: { GCE_METADATA_HOST: `127.0.0.1:${port}` }, dmiDir: notGoogle, metadataTimeoutMs: 100, metadataPatienceMs: 600 }),
        (error: unknown) => isZonelabError(error, 'E_NO_IDENTITY'),
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => impostor.close(resolve));
    }
  });

  it('a served zone comes from the metadata stand-in when no flag names it (real process)', async () => {
    const metadata = await startMetadataStandIn({ zone: 'projects/9/zones/europe-west1-d', name: 'vm-d' });
    const bucket = await makeTempBucket(2);
    const server = await startServeProcess(['--bucket', bucket.root], { GCE_METADATA_HOST: metadata.host });
    try {
      const response = await httpRequest(`${server.url}/healthz`);
      assert.equal(response.headers['x-zone'], 'europe-west1-d');
      assert.equal(response.headers['x-instance'], 'vm-d');
    } finally {
      await server.kill();
      await metadata.close();
      await bucket.remove();
    }
  });

  it('a server process on a VM whose metadata stand-in never gives the zone exits with one clear line and serves nothing', async () => {
    const metadata = await startMetadataStandIn({ name: 'vm-e', lateMs: { zone: 600_000 } });
    const bucket = await makeTempBucket(1);
    try {
      const result = await runCli(['serve', '--bucket', bucket.root, '--host', '127.0.0.1', '--port', '0', '--bus', 'log', '--metadata-wait', '2'], {
        GCE_METADATA_HOST: metadata.host,
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /^zonelab: on Google Cloud \(GCE_METADATA_HOST names 127\.0\.0\.1:\d+\), but the metadata server gave no zone within 2 s: refusing to serve under a made-up zone/m);
      assert.match(result.stdout, /has not given this VM's zone yet: asking again in/, 'a log line per try');
      assert.doesNotMatch(result.stdout, /"address"/, 'never listened');
    } finally {
      await metadata.close();
      await bucket.remove();
    }
  });
});
