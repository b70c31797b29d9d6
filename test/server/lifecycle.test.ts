import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest } from '../helpers/http.js';
import { type GcsStandIn, startGcsStandIn } from '../helpers/gcs-stand-in.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait.js';

// The slow object comes from a Cloud Storage stand-in that delays its download: a real
// request that is still in flight when the signal arrives.
describe('zonelab serve lifecycle (real signals to a child process)', () => {
  let standIn: GcsStandIn;

  before(async () => {
    standIn = await startGcsStandIn('drain-bucket');
    standIn.put('fast.html', '<p>fast</p>');
    standIn.put('slow.html', '<p>slow</p>');
    standIn.delays.set('slow.html', 1500);
  });
  after(() => standIn.close());

  function startOnStandIn(extra: string[] = []) {
    return startServeProcess(['--bucket', 'gs://drain-bucket', '--zone', 'z1', '--instance', 'i1', ...extra], {
      STORAGE_EMULATOR_HOST: standIn.endpoint,
    });
  }

  it('drains on SIGTERM: health 503 at once, requests served, the in-flight one completes, exit 0', async () => {
    const server = await startOnStandIn(['--drain-seconds', '1']);
    try {
      const slow = httpRequest(`${server.url}/drain-bucket/slow.html`);
      // The slow request is in flight once the server asked the store for its body.
      await waitFor(() => standIn.requests.some((line) => line.includes('slow.html') && line.includes('alt=media')));
      server.child.kill('SIGTERM');
      await server.waitForLog((line) => String(line.message).startsWith('draining'));

      const health = await httpRequest(`${server.url}/healthz`);
      assert.equal(health.status, 503);
      assert.equal(JSON.parse(health.body).status, 'draining');
      assert.equal(health.headers['x-zone'], 'z1');

      const during = await httpRequest(`${server.url}/drain-bucket/fast.html`);
      assert.equal(during.status, 200);
      assert.equal(during.headers.connection, 'close');

      const slowResponse = await slow;
      assert.equal(slowResponse.status, 200);
      assert.equal(slowResponse.body, '<p>slow</p>');
      assert.deepEqual(await server.exited, { code: 0, signal: null });
    } finally {
      await server.kill();
    }
  });

  it('stops accepting connections once the drain period is over', async () => {
    const server = await startOnStandIn(['--drain-seconds', '0.2']);
    try {
      server.child.kill('SIGINT');
      assert.deepEqual(await server.exited, { code: 0, signal: null });
      await assert.rejects(httpRequest(`${server.url}/healthz`), /ECONNREFUSED/);
    } finally {
      await server.kill();
    }
  });

  it('exits at once on a second signal', async () => {
    const server = await startOnStandIn(['--drain-seconds', '30']);
    try {
      server.child.kill('SIGTERM');
      await server.waitForLog((line) => String(line.message).startsWith('draining'));
      const started = performance.now();
      server.child.kill('SIGTERM');
      const exit = await server.exited;
      assert.equal(exit.code, 143);
      assert.ok(performance.now() - started < 5000, 'second signal did not end the 30 s drain');
    } finally {
      await server.kill();
    }
  });
});
