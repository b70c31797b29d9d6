import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { discoverIdentity } from '../../src/server/index.js';
import { httpRequest } from '../helpers/http.js';
import { startMetadataStandIn } from '../helpers/metadata-stand-in.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { makeTempBucket } from '../helpers/temp-bucket.js';

describe('zone and instance discovery', () => {
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

  it('falls back to "local" and the hostname when nothing listens', async () => {
    const identity = await discoverIdentity({ env: { GCE_METADATA_HOST: '127.0.0.1:9' } });
    assert.equal(identity.zone, 'local');
    assert.equal(identity.source.instance, 'hostname');
  });

  it('gives up on a metadata server that never answers within 500 ms', async () => {
    const metadata = await startMetadataStandIn({ silent: true });
    try {
      const started = performance.now();
      const identity = await discoverIdentity({ env: { GCE_METADATA_HOST: metadata.host } });
      const elapsed = performance.now() - started;
      assert.equal(identity.zone, 'local');
      assert.ok(elapsed < 1000, `took ${elapsed} ms`);
      assert.ok(metadata.requests.length >= 1);
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
      assert.equal((await discoverIdentity({ env: { GCE_METADATA_HOST: `127.0.0.1:${port}` } })).zone, 'local');
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
});
