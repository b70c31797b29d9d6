import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { httpRequest } from '../helpers/http.js';
import { type GcsStandIn, startGcsStandIn } from '../helpers/gcs-stand-in.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait.js';

/** The status of one GET on a new connection, or the message of whatever error ended it (never a rejection). */
function probeStatus(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (value: number | string) => {
      if (!settled) resolve(value);
      settled = true;
    };
    const req = get(url, { agent: false }, (res) => {
      res.on('error', (error) => settle(error.message));
      res.resume();
      res.on('end', () => settle(res.statusCode ?? 0));
    });
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', (error) => settle(`${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`));
  });
}

// The slow object comes from a Cloud Storage stand-in that delays its download: a real
// request that is still in flight when the signal arrives, known to be in flight because
// the stand-in saw the server ask for its body.
describe('zonelab serve lifecycle (real signals to a child process; a Cloud Storage stand-in slows one object)', () => {
  let standIn: GcsStandIn;

  before(async () => {
    standIn = await startGcsStandIn('drain-bucket');
    standIn.put('fast.html', '<p>fast</p>');
    standIn.put('slow.html', '<p>slow</p>');
    standIn.put('slower.html', '<p>slower</p>');
    standIn.delays.set('slow.html', 1500);
    standIn.delays.set('slower.html', 4000);
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

  it('keeps accepting for the whole drain period, then refuses new connections while a request in flight finishes', async () => {
    const drainMs = 1000;
    const server = await startOnStandIn(['--drain-seconds', String(drainMs / 1000)]);
    try {
      let slowDone = false;
      const slow = httpRequest(`${server.url}/drain-bucket/slower.html`, { timeoutMs: 10_000 }).finally(() => (slowDone = true));
      await waitFor(() => standIn.requests.some((line) => line.includes('slower.html') && line.includes('alt=media')));
      const signalledAt = performance.now();
      server.child.kill('SIGINT');
      // Probe the listener until it refuses: every answer before that is the drain's 503.
      // A probe that connected in the last instant before the listener closed, its request
      // not read yet, is closed with it (Node.js 26 closes such connections in
      // closeIdleConnections): past the drain period that counts as refused too.
      let refusedAfterMs: number | null = null;
      let slowDoneWhenRefused = true;
      while (refusedAfterMs === null) {
        const probe = await probeStatus(`${server.url}/healthz`);
        const cutAtClose = /socket hang up|ECONNRESET/.test(String(probe)) && performance.now() - signalledAt >= drainMs;
        if (/ECONNREFUSED/.test(String(probe)) || cutAtClose) {
          refusedAfterMs = performance.now() - signalledAt;
          slowDoneWhenRefused = slowDone;
        } else {
          assert.ok(probe === 503 || probe === 200, `during the drain: ${probe}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      // Not before the drain period is over (the timer starts when the signal arrives,
      // after signalledAt), and while the slow request is still being served: the process
      // stays until it is done.
      assert.ok(refusedAfterMs >= drainMs, `refused ${Math.round(refusedAfterMs)} ms after the signal, drain ${drainMs} ms`);
      assert.equal(slowDoneWhenRefused, false, 'the listener closed while the slow request was still in flight');
      assert.equal(server.child.exitCode, null, 'still running for the request in flight');
      const slowResponse = await slow;
      assert.deepEqual([slowResponse.status, slowResponse.body], [200, '<p>slower</p>']);
      assert.deepEqual(await server.exited, { code: 0, signal: null });
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
