import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ForbiddenEvent, ForbiddenEventSink } from '../../src/server/index.js';
import { handleRequest, type RequestInfo, type RulesContext } from '../../src/server/index.js';
import { createLocalDirStore } from '../../src/storage/index.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';

/** An in-process stand-in for the event bus: keeps events, or fails when told to. */
function recordingSink(): ForbiddenEventSink & { events: ForbiddenEvent[]; failing: boolean } {
  const sink = {
    events: [] as ForbiddenEvent[],
    failing: false,
    report: async (event: ForbiddenEvent) => {
      if (sink.failing) throw new Error('bus down');
      sink.events.push(event);
    },
    close: async () => {},
  };
  return sink;
}

function get(target: string, headers: Record<string, string> = {}, method = 'GET'): RequestInfo {
  return { method, target, headers, remoteAddress: '127.0.0.1' };
}

describe('server rules (real local-dir store; an in-process stand-in for the event bus records the refusals)', () => {
  let bucket: TempBucket;
  let context: RulesContext;
  let sink: ReturnType<typeof recordingSink>;
  let draining = false;

  before(async () => {
    bucket = await makeTempBucket(5);
    await writeFile(join(bucket.parent, 'secret.txt'), 'outside the bucket');
    await symlink(join(bucket.parent, 'secret.txt'), join(bucket.root, 'escape.txt'));
    await mkdir(join(bucket.root, '_zonelab'));
    await writeFile(join(bucket.root, '_zonelab', 'zonelab.tgz'), 'the package the cloud VMs install');
    sink = recordingSink();
    context = {
      store: await createLocalDirStore({ root: bucket.root }),
      sink,
      zone: 'zone-a',
      instance: 'vm-a',
      isDraining: () => draining,
    };
  });
  after(() => bucket.remove());

  it('serves an object with its validators and content type', async () => {
    const response = await handleRequest(get('/bucket/webdir/1.html'), context);
    assert.equal(response.status, 200);
    assert.equal(response.headers['Content-Type'], 'text/html; charset=utf-8');
    assert.match(response.headers.ETag!, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(!Number.isNaN(Date.parse(response.headers['Last-Modified']!)));
    assert.match(String(response.body), /^<!DOCTYPE html>/);
    assert.equal(response.log, undefined);
  });

  it('answers 304 to a matching conditional GET', async () => {
    const first = await handleRequest(get('/bucket/webdir/1.html'), context);
    const etag = await handleRequest(get('/bucket/webdir/1.html', { 'if-none-match': first.headers.ETag! }), context);
    assert.equal(etag.status, 304);
    assert.equal(etag.body, '');
    const since = await handleRequest(get('/bucket/webdir/1.html', { 'if-modified-since': first.headers['Last-Modified']! }), context);
    assert.equal(since.status, 304);
  });

  it('answers 404 for a missing object and logs it as a warning', async () => {
    const response = await handleRequest(get('/bucket/webdir/999.html'), context);
    assert.equal(response.status, 404);
    assert.equal(response.log?.severity, 'warn');
  });

  it('answers 404 for a folder and for a symlink leading out of the bucket', async () => {
    assert.equal((await handleRequest(get('/bucket/webdir'), context)).status, 404);
    assert.equal((await handleRequest(get('/bucket/escape.txt'), context)).status, 404);
  });

  for (const method of ['HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'PATCH', 'PUT', 'POST', 'DELETE', 'PROPFIND', 'get']) {
    it(`answers 501 to ${method}, logged`, async () => {
      const response = await handleRequest(get('/bucket/webdir/1.html', {}, method), context);
      assert.equal(response.status, 501);
      assert.equal(response.headers.Allow, 'GET');
      assert.equal(response.log?.message, `method ${method} not implemented`);
    });
  }

  it('answers HEAD like GET when allowed (RFC 9110), and names HEAD in Allow', async () => {
    const allowing = { ...context, allowHead: true };
    const head = await handleRequest(get('/bucket/webdir/1.html', {}, 'HEAD'), allowing);
    assert.equal(head.status, 200);
    assert.equal(head.headers.ETag, (await handleRequest(get('/bucket/webdir/1.html'), context)).headers.ETag);
    const post = await handleRequest(get('/bucket/webdir/1.html', {}, 'POST'), allowing);
    assert.equal(post.headers.Allow, 'GET, HEAD');
  });

  it('never serves the deployment files under _zonelab/: 404, logged, though the object exists', async () => {
    for (const target of ['/bucket/_zonelab/zonelab.tgz', '/_zonelab/zonelab.tgz', '/bucket/_zonelab/missing.tgz']) {
      const response = await handleRequest(get(target), context);
      assert.equal(response.status, 404, target);
      assert.match(response.log?.message ?? '', /deployment files are not served/, target);
    }
    assert.equal((await context.store.get('_zonelab/zonelab.tgz'))?.body.toString(), 'the package the cloud VMs install');
  });

  it('answers 505 to a protocol version other than HTTP/1.0 and 1.1, before anything else', async () => {
    for (const httpVersion of ['0.9', '2.0']) {
      const response = await handleRequest({ ...get('/bucket/webdir/1.html', { 'x-country': 'Iran' }), httpVersion }, context);
      assert.equal(response.status, 505, httpVersion);
      assert.equal(response.headers.Connection, 'close');
    }
    for (const httpVersion of ['1.0', '1.1']) assert.equal((await handleRequest({ ...get('/bucket/webdir/1.html'), httpVersion }, context)).status, 200);
  });

  it('refuses a Transfer-Encoding that does not end in chunked with 400 and a closed connection', async () => {
    const refused = await handleRequest(get('/bucket/webdir/1.html', { 'transfer-encoding': 'gzip' }), context);
    assert.equal(refused.status, 400);
    assert.equal(refused.headers.Connection, 'close');
    assert.equal((await handleRequest(get('/bucket/webdir/1.html', { 'transfer-encoding': 'gzip, chunked' }), context)).status, 200);
  });

  it('checks the method before the country: a POST from Iran is 501 and not reported', async () => {
    const before = sink.events.length;
    const response = await handleRequest(get('/bucket/webdir/1.html', { 'x-country': 'Iran' }, 'POST'), context);
    assert.equal(response.status, 501);
    assert.equal(sink.events.length, before);
  });

  it('refuses a forbidden country with 400, reports the event first and names it in X-Event-Id', async () => {
    const response = await handleRequest(
      get('/bucket/webdir/1.html', { 'x-country': ' north korea ', 'x-client-ip': '175.45.176.9' }),
      context,
    );
    assert.equal(response.status, 400);
    const event = sink.events.at(-1)!;
    assert.equal(response.headers['X-Event-Id'], event.id);
    assert.deepEqual(
      { country: event.country, clientIp: event.clientIp, method: event.method, path: event.path, zone: event.zone, instance: event.instance },
      { country: 'North Korea', clientIp: '175.45.176.9', method: 'GET', path: '/bucket/webdir/1.html', zone: 'zone-a', instance: 'vm-a' },
    );
    assert.match(event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
  });

  it('takes the peer address when X-client-IP is absent, and refuses HEAD and missing objects too', async () => {
    const response = await handleRequest(get('/bucket/nope.html', { 'x-country': 'cuba' }, 'HEAD'), { ...context, allowHead: true });
    assert.equal(response.status, 400);
    assert.equal(sink.events.at(-1)!.clientIp, '127.0.0.1');
  });

  it('answers 503, not 400, when the refusal cannot be reported', async () => {
    sink.failing = true;
    try {
      const response = await handleRequest(get('/bucket/webdir/1.html', { 'x-country': 'Syria' }), context);
      assert.equal(response.status, 503);
      assert.equal(response.log?.severity, 'error');
    } finally {
      sink.failing = false;
    }
  });

  it('answers /healthz 200 while serving and 503 while draining', async () => {
    const serving = await handleRequest(get('/healthz'), context);
    assert.equal(serving.status, 200);
    assert.deepEqual(
      { ...JSON.parse(String(serving.body)), uptimeSec: 0 },
      { status: 'serving', zone: 'zone-a', instance: 'vm-a', uptimeSec: 0 },
    );
    draining = true;
    try {
      const drainingResponse = await handleRequest(get('/healthz?probe=1'), context);
      assert.equal(drainingResponse.status, 503);
      assert.equal(JSON.parse(String(drainingResponse.body)).status, 'draining');
      // Objects are still served while draining.
      assert.equal((await handleRequest(get('/bucket/webdir/1.html'), context)).status, 200);
    } finally {
      draining = false;
    }
  });

  it('answers 501 to a health check with another method (HAProxy checks with OPTIONS by default)', async () => {
    assert.equal((await handleRequest(get('/healthz', {}, 'OPTIONS'), context)).status, 501);
  });

  it('answers 400 to traversal attempts and 414 to over-long targets', async () => {
    assert.equal((await handleRequest(get('/bucket/%2e%2e/secret.txt'), context)).status, 400);
    assert.equal((await handleRequest(get(`/bucket/${'a'.repeat(9000)}`), context)).status, 414);
  });
});
