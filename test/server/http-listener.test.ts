import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { createLogSink, startZoneServer, type ZoneServer } from '../../src/server/index.js';
import { createLocalDirStore } from '../../src/storage/index.js';
import { httpRequest, statusOf } from '../helpers/http.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';

describe('zone server listener (in-process, real sockets)', () => {
  let bucket: TempBucket;
  let server: ZoneServer;
  const logged: string[] = [];

  before(async () => {
    bucket = await makeTempBucket(3);
    const logger = createLogger({ destination: { write: (line: string) => void logged.push(line) } });
    server = await startZoneServer({
      store: await createLocalDirStore({ root: bucket.root }),
      sink: createLogSink(logger),
      zone: 'z',
      instance: 'i',
      logger,
      host: '127.0.0.1',
      port: 0,
      headersTimeoutMs: 400,
      accessLog: true,
    });
  });
  after(async () => {
    await server.close();
    await bucket.remove();
  });

  it('cuts off a client that sends its headers too slowly (408), and keeps serving', async () => {
    const socket = connect(server.port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('GET /bucket/webdir/1.html HTTP/1.1\r\nHost: x\r\n');
    // Trickle one header byte at a time, never finishing the head.
    const trickle = setInterval(() => socket.writable && socket.write('X'), 100);
    const started = performance.now();
    await closed;
    clearInterval(trickle);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 3000, `slow client kept for ${elapsed} ms`);
    assert.equal(statusOf(Buffer.concat(received).toString()), 408);
    assert.equal((await httpRequest(`${server.url}/bucket/webdir/1.html`)).status, 200);
  });

  it('writes an access log line in Cloud Logging form when asked to', async () => {
    await httpRequest(`${server.url}/bucket/webdir/2.html`, { headers: { 'User-Agent': 'test-agent' } });
    const line = logged.map((text) => JSON.parse(text)).find((entry) => entry.httpRequest?.requestUrl === '/bucket/webdir/2.html');
    assert.ok(line, 'no access log line');
    assert.equal(line.severity, 'INFO');
    assert.equal(line.httpRequest.status, 200);
    assert.equal(line.httpRequest.userAgent, 'test-agent');
    assert.match(line.httpRequest.latency, /^\d+\.\d{6}s$/);
    assert.ok(Number(line.httpRequest.responseSize) > 0);
  });
});
