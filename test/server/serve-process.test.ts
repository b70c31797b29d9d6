import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { httpRequest, rawExchange, statusOf } from '../helpers/http.js';
import { type ServeProcess, startServeProcess } from '../helpers/serve-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';

const hasPython = spawnSync('python3', ['--version']).status === 0;

describe('zonelab serve (real process on a loopback port)', () => {
  let bucket: TempBucket;
  let server: ServeProcess;

  before(async () => {
    bucket = await makeTempBucket(20);
    server = await startServeProcess(['--bucket', bucket.root, '--zone', 'us-east1-b', '--instance', 'zone-b-vm']);
  });
  after(async () => {
    await server.kill();
    await bucket.remove();
  });

  function assertIdentity(headers: Record<string, string | string[] | undefined>) {
    assert.equal(headers['x-zone'], 'us-east1-b');
    assert.equal(headers['x-instance'], 'zone-b-vm');
  }

  it('logs one start-up line with zone, instance, bucket and address', () => {
    const startup = server.logs.find((line) => typeof line.address === 'string')!;
    assert.equal(startup.severity, 'INFO');
    assert.equal(startup.zone, 'us-east1-b');
    assert.equal(startup.instance, 'zone-b-vm');
    assert.equal(startup.bucketName, 'bucket');
    assert.equal(startup.address, server.url);
  });

  it('serves a page with Content-Type, Content-Length, ETag, Last-Modified and the identity headers', async () => {
    const response = await httpRequest(`${server.url}/bucket/webdir/3.html`);
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(Number(response.headers['content-length']), Buffer.byteLength(response.body));
    assert.ok(response.headers.etag);
    assert.ok(response.headers['last-modified']);
    assertIdentity(response.headers);
  });

  it('answers a conditional GET with 304 and no body', async () => {
    const first = await httpRequest(`${server.url}/bucket/webdir/3.html`);
    const second = await httpRequest(`${server.url}/bucket/webdir/3.html`, { headers: { 'If-None-Match': String(first.headers.etag) } });
    assert.equal(second.status, 304);
    assert.equal(second.body, '');
    assertIdentity(second.headers);
  });

  it('answers HEAD with 501 and no body, as the assignment lists it', async () => {
    const response = await httpRequest(`${server.url}/bucket/webdir/3.html`, { method: 'HEAD' });
    assert.equal(response.status, 501);
    assert.equal(response.body, '');
    assertIdentity(response.headers);
    await server.waitForLog((line) => line.message === 'method HEAD not implemented' && line.severity === 'WARNING');
  });

  it('with --allow-head answers HEAD with the headers of GET and no body', async () => {
    const allowing = await startServeProcess(['--bucket', bucket.root, '--zone', 'us-east1-b', '--instance', 'zone-b-vm', '--allow-head']);
    try {
      const response = await httpRequest(`${allowing.url}/bucket/webdir/3.html`, { method: 'HEAD' });
      assert.equal(response.status, 200);
      assert.ok(Number(response.headers['content-length']) > 0);
      assert.equal(response.body, '');
    } finally {
      await allowing.kill();
    }
  });

  for (const method of ['OPTIONS', 'TRACE', 'PATCH', 'PUT', 'POST', 'DELETE']) {
    it(`answers ${method} with 501 and logs it`, async () => {
      const response = await httpRequest(`${server.url}/bucket/webdir/3.html`, { method });
      assert.equal(response.status, 501);
      assertIdentity(response.headers);
      await server.waitForLog((line) => line.message === `method ${method} not implemented` && line.severity === 'WARNING');
    });
  }

  it('answers CONNECT with 501 on the raw connection, with the identity headers', async () => {
    const { text } = await rawExchange(server.port, 'CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n');
    assert.equal(statusOf(text), 501);
    assert.match(text, /\r\nX-Zone: us-east1-b\r\n/);
    assert.match(text, /\r\nX-Instance: zone-b-vm\r\n/);
  });

  it('answers a missing object with 404, logged as WARNING', async () => {
    const response = await httpRequest(`${server.url}/bucket/webdir/12345.html`);
    assert.equal(response.status, 404);
    assertIdentity(response.headers);
    await server.waitForLog((line) => line.message === 'object webdir/12345.html not found' && line.severity === 'WARNING');
  });

  it('refuses a forbidden country with 400 and logs the refusal with its event id', async () => {
    const response = await httpRequest(`${server.url}/bucket/webdir/3.html`, { headers: { 'X-country': 'Myanmar' } });
    assert.equal(response.status, 400);
    assertIdentity(response.headers);
    const id = response.headers['x-event-id'];
    const logged = await server.waitForLog((line) => String(line.message).endsWith(`refused, event ${id}`));
    assert.equal(logged.severity, 'WARNING');
  });

  it('answers /healthz with 200 and JSON, with the identity headers', async () => {
    const response = await httpRequest(`${server.url}/healthz`);
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(response.body).status, 'serving');
    assertIdentity(response.headers);
  });

  it('answers the slash-less request line of the course client', async () => {
    const { text } = await rawExchange(server.port, 'GET bucket/webdir/4.html HTTP/1.1\r\nHost: x\r\nX-country: France\r\n\r\n');
    assert.equal(statusOf(text), 200);
    assert.match(text, /\r\nX-Zone: us-east1-b\r\n/);
    assert.match(text, /<h1>Page 4<\/h1>/);
    // The object's answer is put together once with its length and identity: written on
    // the raw socket, each still appears once.
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    assert.equal(head.match(/^Content-Length:/gim)?.length, 1, head);
    assert.equal(head.match(/^X-Zone:/gim)?.length, 1, head);
    const forbidden = await rawExchange(server.port, 'GET bucket/webdir/4.html HTTP/1.1\r\nHost: x\r\nX-country: Libya\r\n\r\n');
    assert.equal(statusOf(forbidden.text), 400);
    assert.match(forbidden.text, /\r\nX-Event-Id: /);
  });

  it('serves the unchanged course client (Python http.client)', { skip: hasPython ? false : 'python3 not installed' }, async () => {
    const script = [
      'import http.client, sys',
      'for target, country in [("bucket/webdir/5.html", "France"), ("webdir/6.html", "Chile"), ("bucket/webdir/5.html", "Iran")]:',
      `    c = http.client.HTTPConnection("127.0.0.1", ${server.port}, timeout=5)`,
      '    c.request("GET", target, headers={"X-country": country})',
      '    r = c.getresponse()',
      '    body = r.read()',
      '    print(r.status, r.reason, r.getheader("X-Zone"), len(body))',
    ].join('\n');
    const { stdout } = await promisify(execFile)('python3', ['-c', script], { timeout: 10_000 });
    const lines = stdout.trim().split('\n').map((line) => line.split(' '));
    assert.deepEqual(
      lines.map((l) => l.slice(0, 4).join(' ').replace(/ \d+$/, '')),
      ['200 OK us-east1-b', '200 OK us-east1-b', '400 Bad Request us-east1-b'].map((s) => s),
    );
  });

  it('answers an over-long target with 414 and oversized headers with 431, identity headers included', async () => {
    const long = await rawExchange(server.port, `GET /bucket/${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(long.timedOut, false);
    assert.equal(statusOf(long.text), 414);
    assert.match(long.text, /\r\nX-Zone: us-east1-b\r\n/);
    const big = await rawExchange(server.port, `GET /bucket/webdir/1.html HTTP/1.1\r\nHost: x\r\nX-big: ${'b'.repeat(20_000)}\r\n\r\n`);
    assert.equal(statusOf(big.text), 431);
    assert.match(big.text, /\r\nX-Zone: us-east1-b\r\n/);
  });

  it('answers garbage with 400 and keeps serving', async () => {
    const garbage = await rawExchange(server.port, '\x00\x01 this is not http\r\n\r\n');
    assert.equal(statusOf(garbage.text), 400);
    assert.equal((await httpRequest(`${server.url}/bucket/webdir/1.html`)).status, 200);
  });

  it('never serves a file outside the bucket, whatever the spelling', async () => {
    for (const target of ['/../secret', '/bucket/%2e%2e/%2e%2e/etc/passwd', '/bucket/..%2f..%2fetc/passwd', '/..%5c..%5cetc/passwd']) {
      const { text } = await rawExchange(server.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.ok([400, 404].includes(statusOf(text) ?? 0), `${target}: ${text.slice(0, 40)}`);
      assert.doesNotMatch(text, /root:/);
    }
  });
});
