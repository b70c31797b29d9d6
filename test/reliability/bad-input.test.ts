import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpRequest, rawExchange, statusOf } from '../helpers/http.js';
import { type ServeProcess, startServeProcess } from '../helpers/serve-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { BAD_INPUT_CASES, request } from './bad-input-corpus.js';

const SECRET = `TOP-SECRET-${randomBytes(8).toString('hex')}`;

describe('bad input on raw sockets against a real zonelab serve', () => {
  let bucket: TempBucket;
  let server: ServeProcess;

  before(async () => {
    bucket = await makeTempBucket(20);
    // Files next to the bucket: no request may ever read them.
    await writeFile(join(bucket.parent, 'secret.txt'), SECRET);
    await writeFile(join(bucket.parent, 'bucket.secret'), SECRET);
    await writeFile(join(bucket.root, 'big.bin'), Buffer.alloc(8 * 1024 * 1024, 7));
    server = await startServeProcess(['--bucket', bucket.root, '--zone', 'zone-a', '--instance', 'server-a']);
  });
  after(async () => {
    await server.kill();
    await bucket.remove();
  });

  async function answersNormally(): Promise<void> {
    const response = await httpRequest(`${server.url}/bucket/webdir/1.html`);
    assert.equal(response.status, 200, 'a normal request right after is served');
    assert.equal(response.headers['x-zone'], 'zone-a');
  }

  it(`holds at least 60 cases (${BAD_INPUT_CASES.length})`, () => {
    assert.ok(BAD_INPUT_CASES.length >= 60);
    assert.equal(new Set(BAD_INPUT_CASES.map((c) => c.name)).size, BAD_INPUT_CASES.length, 'case names are unique');
  });

  for (const testCase of BAD_INPUT_CASES) {
    it(testCase.name, async () => {
      const { text, timedOut } = await rawExchange(server.port, testCase.bytes, { timeoutMs: 4000 });
      const status = statusOf(text);
      if (status === null) {
        assert.ok(testCase.closeAllowed, `no response (${timedOut ? 'timed out' : 'closed'}); expected ${testCase.statuses.join(' or ')}`);
        assert.ok(!timedOut, 'the connection was left open without an answer');
      } else {
        assert.ok(testCase.statuses.includes(status), `got ${status}, expected ${testCase.statuses.join(' or ')}:\n${text.slice(0, 300)}`);
      }
      assert.ok(!text.includes(SECRET), 'a file outside the bucket was served');
      assert.ok(!text.includes('root:x:0:0'), '/etc/passwd was served');
      const problem = testCase.check?.(text);
      assert.equal(problem ?? null, null, problem ?? '');
      await answersNormally();
    });
  }

  it('a request sent one byte at a time is served, and so is a refusal', async () => {
    for (const [bytes, expected] of [
      [request('GET /bucket/webdir/4.html HTTP/1.1'), 200],
      [request('GET /bucket/webdir/4.html HTTP/1.1', ['X-country: Iran']), 400],
    ] as const) {
      const text = await new Promise<string>((resolve, reject) => {
        const socket = connect(server.port, '127.0.0.1');
        let received = '';
        socket.on('data', (chunk) => (received += chunk.toString('latin1')));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
        socket.on('connect', async () => {
          for (const byte of Buffer.from(bytes)) {
            socket.write(Buffer.from([byte]));
            await sleep(1);
          }
        });
      });
      assert.equal(statusOf(text), expected, text.slice(0, 200));
      if (expected === 400) assert.match(text, /x-event-id: [0-9a-f-]{36}/i);
    }
    await answersNormally();
  });

  it('a slow-headers client is cut off by the header timeout while others are served', async () => {
    const socket = connect(server.port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', () => {});
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now())));
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    const started = performance.now();
    socket.write('GET /bucket/webdir/0.html HTTP/1.1\r\nHost: t\r\n');
    // One more header line every 300 ms, never the end of the headers.
    const trickle = setInterval(() => socket.writable && socket.write(`X-Slow-${Math.round(performance.now())}: 1\r\n`), 300);
    try {
      await answersNormally();
      const closedAt = await Promise.race([closed, sleep(15_000).then(() => null)]);
      assert.ok(closedAt !== null, 'the slow client was still connected after 15 s');
      assert.ok(closedAt - started >= 5000, `cut off after ${Math.round(closedAt - started)} ms: too early for a header timeout`);
      const status = statusOf(received);
      assert.ok(status === null || status === 408, `answered ${status}`);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    await answersNormally();
  });

  it('clients that disconnect mid-response and mid-request leave the server serving', async () => {
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(server.port, '127.0.0.1');
        socket.on('error', () => {});
        socket.on('connect', () => socket.write(request('GET /bucket/big.bin HTTP/1.1')));
        // Gone after the first bytes of an 8 MiB answer.
        socket.once('data', () => {
          socket.destroy();
          resolve();
        });
      });
      await new Promise<void>((resolve) => {
        const socket = connect(server.port, '127.0.0.1');
        socket.on('error', () => {});
        socket.on('connect', () => {
          socket.write('GET /bucket/webdir/0.html HTTP/1.1\r\nHost: t\r\nX-coun');
          socket.destroy();
          resolve();
        });
      });
    }
    await answersNormally();
    const whole = await httpRequest(`${server.url}/bucket/big.bin`, { timeoutMs: 10_000 });
    assert.equal(whole.body.length, 8 * 1024 * 1024, 'a whole large answer still arrives');
    assert.equal(server.child.exitCode, null, 'the server is still running');
    assert.ok(!server.logs.some((line) => line.severity === 'CRITICAL' || line.severity === 'EMERGENCY'), 'no fatal log line');
  });
});
