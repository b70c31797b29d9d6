import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callControl } from '../../src/lab/control-client.js';
import { parseFault } from '../../src/records/index.js';
import { type GrayFault, GrayFaults } from '../../src/server/index.js';
import { type ServeProcess, startServeProcess } from '../helpers/serve-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';

const gray = (text: string) => parseFault(text) as GrayFault;

describe('gray faults (pure)', () => {
  it('errors:<f> fails exactly that share of object requests, spread evenly, and never /healthz', () => {
    const faults = new GrayFaults();
    faults.set(gray('errors:0.3'), 0);
    const verdicts = Array.from({ length: 100 }, () => faults.verdict(false, 0));
    assert.equal(verdicts.filter((v) => v.replace?.status === 500).length, 30);
    assert.ok(verdicts.slice(0, 10).filter((v) => v.replace).length === 3, 'spread, not bunched');
    assert.equal(faults.verdict(true, 0).replace, null);
  });

  it('health-fail fails only the health check; flap alternates it every period, failing first', () => {
    const faults = new GrayFaults();
    faults.set(gray('health-fail'), 0);
    assert.equal(faults.verdict(true, 0).replace?.status, 503);
    assert.equal(faults.verdict(false, 0).replace, null);
    faults.set(gray('flap:1s'), 5000);
    const at = (t: number) => faults.verdict(true, 5000 + t).replace?.status ?? 200;
    assert.deepEqual([at(0), at(999), at(1000), at(1999), at(2000)], [503, 503, 200, 200, 503]);
    faults.clear();
    assert.equal(faults.verdict(true, 5000).replace, null);
  });

  it('latency delays every answer, the health check included', () => {
    const faults = new GrayFaults();
    faults.set(gray('latency:250'), 0);
    assert.deepEqual([faults.verdict(true, 0).delayMs, faults.verdict(false, 0).delayMs], [250, 250]);
  });
});

function get(url: string, method = 'GET'): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the control socket of a real server process', () => {
  let dir: string;
  let bucket: TempBucket;
  let server: ServeProcess;
  let socket: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-control-'));
    bucket = await makeTempBucket(3);
    socket = join(dir, 'vm.sock');
    server = await startServeProcess(['--bucket', bucket.root, '--zone', 'z', '--instance', 'vm', '--control', socket]);
  });
  after(async () => {
    await server.kill();
    await bucket.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it('is a socket only its owner can use (mode 0600)', async () => {
    const info = await stat(socket);
    assert.ok(info.isSocket());
    assert.equal(info.mode & 0o777, 0o600);
  });

  it('sets, shows and heals a gray fault, and the server answers accordingly', async () => {
    assert.deepEqual(await callControl(socket, 'PUT', { fault: 'Latency:300' }), { fault: 'latency:300' });
    assert.deepEqual(await callControl(socket, 'GET'), { fault: 'latency:300' });
    const slow = await get(`${server.url}/healthz`);
    assert.equal(slow.status, 200);
    assert.ok(slow.ms >= 300, `answered in ${slow.ms.toFixed(0)} ms`);
    await callControl(socket, 'PUT', { fault: 'health-fail' });
    assert.equal((await get(`${server.url}/healthz`)).status, 503);
    assert.equal((await get(`${server.url}/bucket/webdir/0.html`)).status, 200);
    assert.deepEqual(await callControl(socket, 'DELETE'), { fault: null, healed: 'health-fail' });
    const healthy = await get(`${server.url}/healthz`);
    assert.equal(healthy.status, 200);
    assert.ok(healthy.ms < 300);
  });

  it('refuses a fault the server cannot inject itself, and bad bodies, with 400 and a reason', async () => {
    await assert.rejects(callControl(socket, 'PUT', { fault: 'partition' }), /not a fault a server injects itself/);
    await assert.rejects(callControl(socket, 'PUT', { fault: 'errors:2' }), /above 0 and at most 1/);
    await assert.rejects(callControl(socket, 'PUT', { nope: 1 }), /must be JSON such as/);
    assert.deepEqual(await callControl(socket, 'GET'), { fault: null });
  });

  it('is not reachable through the public port', async () => {
    assert.equal((await get(`${server.url}/fault`, 'PUT')).status, 501);
    assert.equal((await get(`${server.url}/fault`, 'DELETE')).status, 501);
    assert.deepEqual(await callControl(socket, 'GET'), { fault: null });
  });
});
