import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createKeepAliveConnection, type KeptConnectionAnswer } from '../../src/client/keep-alive-connection.js';
import { scriptedServer } from '../helpers/scripted-server.js';
import { waitFor } from '../helpers/wait.js';

/** What the records keep of a kept connection's answer: status or error code, and new or reused. */
const brief = (got: KeptConnectionAnswer) => [got.answer ? got.answer.status : got.error.code, got.reused ? 'reused' : 'new'];

describe('GETs on a kept connection, against a real node:http server on loopback', () => {
  let seen: IncomingHttpHeaders[];
  let connections = 0;
  let open = 0;
  const http = createHttpServer((req, res) => {
    seen.push(req.headers);
    if (req.url === '/close') res.writeHead(200, { Connection: 'close', 'Content-Length': 2 }).end('ok');
    else res.writeHead(200, { 'X-Zone': 'zone-k', 'X-Instance': 'vm-k', 'Content-Length': 5 }).end('hello');
  });
  let origin: string;
  before(async () => {
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    http.on('connection', (socket: Socket) => {
      connections++;
      open++;
      socket.on('close', () => open--);
    });
  });
  after(async () => {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });

  it('sends GETs one after another on one connection, without Connection: close, and says which were reused', async () => {
    seen = [];
    connections = 0;
    const kept = createKeepAliveConnection(origin, 2000);
    try {
      // Asked at once, answered in turn: the second and third wait for the first.
      const answers = await Promise.all([1, 2, 3].map((n) => kept.get(`/b/w/${n}.html`, { 'X-country': 'France' })));
      assert.deepEqual(answers.map(brief), [[200, 'new'], [200, 'reused'], [200, 'reused']]);
      assert.deepEqual(answers[0]!.answer, { status: 200, zone: 'zone-k', instance: 'vm-k' });
      assert.equal((await kept.get('/4', {})).reused, true);
      assert.equal(connections, 1);
      assert.deepEqual(
        seen.map((headers) => [headers.host, headers.connection, headers['x-country']]),
        [1, 2, 3, 4].map((n) => [new URL(origin).host, undefined, n < 4 ? 'France' : undefined]),
      );
    } finally {
      kept.destroy();
    }
    await waitFor(() => open === 0, 2000, 'the connection closed once destroyed');
  });

  it('opens a new connection after an answer that said Connection: close', async () => {
    connections = 0;
    seen = [];
    const kept = createKeepAliveConnection(origin, 2000);
    try {
      assert.deepEqual([brief(await kept.get('/close', {})), brief(await kept.get('/after', {})), brief(await kept.get('/again', {}))], [[200, 'new'], [200, 'new'], [200, 'reused']]);
      assert.equal(connections, 2);
    } finally {
      kept.destroy();
    }
  });

  it('refuses a header with a line break before sending anything, and keeps working after', async () => {
    seen = [];
    const kept = createKeepAliveConnection(origin, 2000);
    try {
      assert.deepEqual(brief(await kept.get('/a', { 'X-country': 'France\r\nX-evil: 1' })), ['EOTHER', 'new']);
      assert.deepEqual(brief(await kept.get('/a b', {})), ['EOTHER', 'new']);
      assert.equal(seen.length, 0);
      assert.deepEqual(brief(await kept.get('/a', {})), [200, 'new']);
    } finally {
      kept.destroy();
    }
  });

  it('speaks plain http only, with a timeout', () => {
    assert.throws(() => createKeepAliveConnection('https://127.0.0.1:1', 1000), /plain http/);
    assert.throws(() => createKeepAliveConnection(origin, 0), RangeError);
  });
});

describe('a kept connection when the server does what a test makes it do (scripted TCP server on loopback)', () => {
  /** `count` GETs one after another on one kept connection to `script`; their brief outcomes and the connections the server saw. */
  async function sequence(script: (socket: Socket, previous: number) => void, count: number, timeoutMs = 300) {
    const server = await scriptedServer(script);
    const kept = createKeepAliveConnection(`http://127.0.0.1:${server.port}`, timeoutMs);
    try {
      const outcomes = [];
      for (let i = 0; i < count; i++) outcomes.push(brief(await kept.get(`/${i}`, {})));
      return { outcomes, connections: server.connections() };
    } finally {
      kept.destroy();
      await server.close();
    }
  }
  const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

  it('reuses a connection after an answer with a length, and after a chunked one', async () => {
    assert.deepEqual(await sequence((s) => s.write(ok), 3), { outcomes: [[200, 'new'], [200, 'reused'], [200, 'reused']], connections: 1 });
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n';
    assert.deepEqual(await sequence((s) => s.write(chunked), 2), { outcomes: [[200, 'new'], [200, 'reused']], connections: 1 });
  });

  it('does not reuse one after an answer that ended at the close, an HTTP/1.0 answer, or bytes after an answer', async () => {
    assert.deepEqual(await sequence((s) => s.end('HTTP/1.1 200 OK\r\n\r\nall of it'), 2), { outcomes: [[200, 'new'], [200, 'new']], connections: 2 });
    assert.deepEqual(await sequence((s) => s.write('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok'), 2), { outcomes: [[200, 'new'], [200, 'new']], connections: 2 });
    assert.deepEqual(await sequence((s) => s.write(`${ok}HTTP/1.1 200 OK\r\n`), 2), { outcomes: [[200, 'new'], [200, 'new']], connections: 2 });
  });

  it('opens a new connection when the server closed the idle one, without a failed request', async () => {
    const server = await scriptedServer((s) => s.end(ok));
    const kept = createKeepAliveConnection(`http://127.0.0.1:${server.port}`, 1000);
    try {
      assert.deepEqual(brief(await kept.get('/1', {})), [200, 'new']);
      // The server's end of the connection closes once the client has read its close and closed too.
      await waitFor(() => server.open() === 0, 2000, 'the idle connection closed at both ends');
      assert.deepEqual(brief(await kept.get('/2', {})), [200, 'new']);
      assert.equal(server.connections(), 2);
    } finally {
      kept.destroy();
      await server.close();
    }
  });

  it('does not reuse one past the idle time the server announced, less a margin', async () => {
    // Keep-Alive: timeout=1 leaves no time once the margin of a second is taken off.
    const announced = 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok';
    assert.deepEqual(await sequence((s) => s.write(announced), 2), { outcomes: [[200, 'new'], [200, 'new']], connections: 2 });
    const roomy = 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=30\r\nContent-Length: 2\r\n\r\nok';
    assert.deepEqual(await sequence((s) => s.write(roomy), 2), { outcomes: [[200, 'new'], [200, 'reused']], connections: 1 });
  });

  it('fails one GET on a reset, a cut body, a timeout or a bad answer, and sends the next on a new connection', async () => {
    // The first answer on each connection is the fault; the next one is fine.
    const faults: [string, (s: Socket) => void, string][] = [
      ['a reset', (s) => s.resetAndDestroy(), 'ECONNRESET'],
      ['a body cut short of its length', (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort'), 'ECONNRESET'],
      ['a chunked body cut short', (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'), 'ECONNRESET'],
      ['no answer at all', () => {}, 'TIMEOUT'],
      ['a body that stops halfway', (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf'), 'TIMEOUT'],
      ['another protocol', (s) => s.write('SSH-2.0-OpenSSH_9.2\r\n\r\n'), 'EOTHER'],
    ];
    for (const [name, fault, code] of faults) {
      let connection = 0;
      const result = await sequence((s, previous) => {
        if (previous === 0) connection++;
        if (connection === 1) fault(s);
        else s.write(ok);
      }, 3);
      assert.deepEqual(result, { outcomes: [[code, 'new'], [200, 'new'], [200, 'reused']], connections: 2 }, name);
    }
  });

  it('fails a GET on a reused connection the server resets as reused, and the next is new', async () => {
    const result = await sequence((s, previous) => (previous === 1 ? s.resetAndDestroy() : s.write(ok)), 3);
    assert.deepEqual(result, { outcomes: [[200, 'new'], ['ECONNRESET', 'reused'], [200, 'new']], connections: 2 });
  });

  it('is refused by a closed port, and cancels what is in flight and waiting when destroyed', async () => {
    const server = await scriptedServer(() => {});
    const port = server.port;
    const kept = createKeepAliveConnection(`http://127.0.0.1:${port}`, 5000);
    const pending = [kept.get('/1', {}), kept.get('/2', {})];
    await waitFor(() => server.requests.length === 1, 2000, 'the first GET at the server');
    const started = performance.now();
    kept.destroy();
    assert.deepEqual((await Promise.all(pending)).map(brief), [['CANCELLED', 'new'], ['CANCELLED', 'new']]);
    assert.ok(performance.now() - started < 1000);
    assert.deepEqual(brief(await kept.get('/3', {})), ['CANCELLED', 'new']);
    assert.equal(server.requests.length, 1, 'nothing sent after the destroy');
    await server.close();
    const refused = createKeepAliveConnection(`http://127.0.0.1:${port}`, 1000);
    assert.deepEqual(brief(await refused.get('/', {})), ['ECONNREFUSED', 'new']);
    refused.destroy();
  });
});
