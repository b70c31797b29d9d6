import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createChunkedBody } from '../../src/client/chunked-body.js';
import { createNewConnectionGets } from '../../src/client/get-on-new-connection.js';
import { AttemptError, connectErrorCode, parseHead } from '../../src/client/http1.js';
import { tcpAdapterFor } from '../../src/client/tcp/index.js';
import { libuvHandlesUsable, openLibuvHandle } from '../../src/client/tcp/libuv-handle.js';
import { openNetSocket } from '../../src/client/tcp/net-socket.js';
import { scriptedServer } from '../helpers/scripted-server.js';
import { waitFor } from '../helpers/wait.js';

async function failureOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof AttemptError, `expected a failed attempt, got ${String(error)}`);
  return error.code;
}

describe('response heads and chunked bodies (pure)', () => {
  it('reads the status, X-Zone and X-Instance whatever their case, and the body length', () => {
    assert.deepEqual(parseHead('HTTP/1.1 200 OK\r\nx-ZONE: zone-a\r\nX-Instance:  vm-1 \r\nContent-Length: 12'), {
      answer: { status: 200, zone: 'zone-a', instance: 'vm-1' },
      body: 12,
      interim: false,
      persistent: true,
      keepAliveMs: null,
    });
    assert.deepEqual(parseHead('HTTP/1.0 503'), { answer: { status: 503, zone: null, instance: null }, body: 'until-close', interim: false, persistent: false, keepAliveMs: null });
    assert.equal(parseHead('HTTP/1.2 200 OK\r\nContent-Length: 1')?.body, 1, 'a higher minor version is read as 1.1');
  });

  it('frames the body: chunked outranks a length, another coding ends at the close, none after 204 and 304, 1xx is interim', () => {
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5')!.body, 'chunked');
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked')!.body, 'chunked');
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip')!.body, 'until-close');
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nContent-Length: 5, 5')!.body, 5, 'a list of one repeated value');
    assert.equal(parseHead('HTTP/1.1 204 No Content\r\nContent-Length: 5')!.body, 0);
    assert.equal(parseHead('HTTP/1.1 304 Not Modified')!.body, 0);
    assert.equal(parseHead('HTTP/1.1 100 Continue')!.interim, true);
  });

  it('tells whether the connection stays open after the answer, and for how long the server keeps it idle', () => {
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nContent-Length: 1')!.persistent, true, 'HTTP/1.1 keeps it unless told');
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 1')!.persistent, false);
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nConnection: upgrade\r\nConnection: close')!.persistent, false, 'close in a second Connection line');
    assert.equal(parseHead('HTTP/1.0 200 OK\r\nContent-Length: 1')!.persistent, false, 'HTTP/1.0 closes it unless told');
    assert.equal(parseHead('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1')!.persistent, true);
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=1000\r\nContent-Length: 1')!.keepAliveMs, 5000);
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nKeep-Alive: max=5\r\nContent-Length: 1')!.keepAliveMs, null, 'max is not a timeout');
  });

  it('matches header names without case, letter by letter, and trims only blanks', () => {
    assert.deepEqual(parseHead('HTTP/1.1 200 OK\r\nX_Zone: no\r\nX-Zone\x01: no\r\nX-ZONE:\t z \t\r\nx-instance:\r\nContent-Length: 2')?.answer, { status: 200, zone: 'z', instance: '' });
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n'), null, 'an empty line inside a head');
    assert.equal(parseHead('HTTP/1.1 200\r\nContent-Length: 2')?.body, 2, 'a status line without a reason');
  });

  it('takes a folded line as part of the one before', () => {
    assert.deepEqual(parseHead('HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nX-Zone: z\r\nContent-Length: 2')?.answer, { status: 200, zone: 'z', instance: null });
  });

  it('refuses what is not an HTTP/1.x head: another protocol, a line without a colon, a space before one, a bad or a doubled length', () => {
    assert.equal(parseHead('SSH-2.0-OpenSSH_9.2'), null);
    assert.equal(parseHead('HTTP/2 200'), null);
    assert.equal(parseHead('HTTP/1.1 20 OK'), null);
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nno colon here'), null);
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nContent-Length : 5'), null);
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nContent-Length: 1e3'), null);
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4'), null);
    assert.equal(parseHead('HTTP/1.1 200 OK\r\nContent-Length: 3, 4'), null);
  });

  it('finds the end of a chunked body, with extensions and trailers, fed whole or a byte at a time', () => {
    const body = Buffer.from('5;name=x\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n');
    assert.equal(createChunkedBody().feed(body), 'done');
    const bytewise = createChunkedBody();
    const results = [...body].map((byte) => bytewise.feed(Buffer.from([byte])));
    assert.deepEqual([results.at(-1), results.slice(0, -1).every((result) => result === 'more')], ['done', true]);
    assert.equal(createChunkedBody().feed(Buffer.from('xx5\r\nhello\r\n0\r\n\r\n'), 2), 'done', 'read from an offset');
    assert.equal(createChunkedBody().trailing, 0);
    const followed = createChunkedBody();
    assert.equal(followed.feed(Buffer.from('2\r\nok\r\n0\r\n\r\nHTTP/1.1')), 'done');
    assert.equal(followed.trailing, 8, 'the bytes after the body are counted');
  });

  it('tells a chunked body cut short or out of its framing', () => {
    assert.equal(createChunkedBody().feed(Buffer.from('5\r\nhel')), 'more');
    assert.equal(createChunkedBody().feed(Buffer.from('5\r\nhello\r\n')), 'more', 'no last chunk yet');
    assert.equal(createChunkedBody().feed(Buffer.from('zz\r\n')), 'bad');
    assert.equal(createChunkedBody().feed(Buffer.from('5\r\nhelloXX')), 'bad', 'data longer than its size');
    assert.equal(createChunkedBody().feed(Buffer.from('1234567890abc\r\n')), 'bad', 'a size beyond any number');
  });

  it('codes a failed connect: a refusal among the addresses tried is a refusal, a connect timed out is CONNECT_TIMEOUT', () => {
    assert.equal(connectErrorCode({ code: 'ETIMEDOUT', errors: [{ code: 'ETIMEDOUT' }, { code: 'ECONNREFUSED' }] }, false), 'ECONNREFUSED');
    assert.equal(connectErrorCode({ code: 'ETIMEDOUT', errors: [{ code: 'ETIMEDOUT' }] }, false), 'CONNECT_TIMEOUT');
    assert.equal(connectErrorCode({ code: 'ERR_SOCKET_CONNECTION_TIMEOUT' }, false), 'CONNECT_TIMEOUT');
    assert.equal(connectErrorCode({ code: 'ECONNRESET' }, true), 'ECONNRESET');
    assert.equal(connectErrorCode({ code: 'ERR_SOMETHING' }, true), 'EOTHER');
  });
});

for (const adapter of ['handle', 'net'] as const)
describe(`GETs on a new connection each, on ${adapter === 'handle' ? 'libuv handles' : 'net.Socket'}, against real loopback servers`, () => {
  let seen: IncomingHttpHeaders[];
  let connections = 0;
  let open = 0;
  const http = createHttpServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'X-Zone': 'zone-h', 'X-Instance': 'vm-h', 'Content-Length': 5 }).end('hello');
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

  it('sends the path and the headers with Host and Connection: close, one connection per GET, and reads the zone that answered', async () => {
    seen = [];
    connections = 0;
    const gets = createNewConnectionGets(origin, 2000, adapter);
    const answers = await Promise.all([1, 2, 3].map((n) => gets.get(`/b/w/${n}.html`, { 'X-country': 'France', 'X-age': '20-30' })));
    assert.deepEqual(answers, [1, 2, 3].map(() => ({ status: 200, zone: 'zone-h', instance: 'vm-h' })));
    assert.equal(connections, 3);
    assert.deepEqual(
      seen.map((headers) => [headers.host, headers.connection, headers['x-country'], headers['x-age']]),
      [1, 2, 3].map(() => [new URL(origin).host, 'close', 'France', '20-30']),
    );
    // The server closed each connection, as it must when asked to.
    await waitFor(() => open === 0, 2000, 'every connection closed');
  });

  it('refuses a header with a line break or a path with a space, before connecting', async () => {
    connections = 0;
    const gets = createNewConnectionGets(origin, 2000, adapter);
    assert.equal(await failureOf(gets.get('/a', { 'X-country': 'France\r\nX-evil: 1' })), 'EOTHER');
    assert.equal(await failureOf(gets.get('/a b', {})), 'EOTHER');
    assert.equal(await failureOf(gets.get('/a', { 'Bad Name': 'x' })), 'EOTHER');
    assert.equal(await failureOf(gets.get('/a', { 'Content-Length': '5' })), 'EOTHER', 'a header that frames the request');
    assert.equal(await failureOf(gets.get('/a', { Host: 'elsewhere' })), 'EOTHER', 'a second Host');
    assert.equal(await failureOf(gets.get('/a#part', {})), 'EOTHER', 'a fragment');
    assert.equal(connections, 0);
  });

  it('speaks plain http only, with a timeout', () => {
    assert.throws(() => createNewConnectionGets('https://127.0.0.1:1', 1000), /plain http/);
    for (const timeout of [0, -1, Number.NaN]) assert.throws(() => createNewConnectionGets(origin, timeout), RangeError, String(timeout));
  });

  const cases: { name: string; script: (socket: Socket) => void; expect: string | number }[] = [
    { name: 'a body that ends at the close, with no length', script: (s) => s.end('HTTP/1.1 200 OK\r\nX-Zone: z\r\n\r\nall of it'), expect: 200 },
    { name: 'a chunked body', script: (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'), expect: 200 },
    { name: 'a whole chunked body on a connection the server keeps open', script: (s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'), expect: 200 },
    { name: 'a chunked body cut short by the close (a server killed mid-answer)', script: (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'), expect: 'ECONNRESET' },
    { name: 'a chunked body out of its framing', script: (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot chunks\r\n'), expect: 'EOTHER' },
    { name: 'a head written a byte at a time', script: (s) => void writeSlowly(s, 'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok'), expect: 201 },
    { name: '100 Continue before the answer', script: (s) => s.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), expect: 200 },
    { name: 'an answer complete at its length on a connection the server keeps open', script: (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), expect: 200 },
    { name: 'a close before any byte', script: (s) => s.end(), expect: 'ECONNRESET' },
    { name: 'a body cut short of its length', script: (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort'), expect: 'ECONNRESET' },
    { name: 'a reset', script: (s) => s.resetAndDestroy(), expect: 'ECONNRESET' },
    { name: 'another protocol', script: (s) => s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'), expect: 'EOTHER' },
    { name: 'a head without end', script: (s) => s.write(`HTTP/1.1 200 OK\r\nX-Pad: ${'x'.repeat(70_000)}`), expect: 'EOTHER' },
    { name: 'no answer at all', script: () => {}, expect: 'TIMEOUT' },
    { name: 'a body that stops halfway', script: (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf'), expect: 'TIMEOUT' },
  ];
  for (const { name, script, expect } of cases) {
    it(`${typeof expect === 'number' ? 'answers' : `fails with ${expect}`} on ${name}`, async () => {
      const server = await scriptedServer(script);
      try {
        const gets = createNewConnectionGets(`http://127.0.0.1:${server.port}`, 300, adapter);
        const attempt = gets.get('/x.html', {});
        if (typeof expect === 'number') assert.equal((await attempt).status, expect);
        else assert.equal(await failureOf(attempt), expect);
      } finally {
        await server.close();
      }
    });
  }

  it('is refused by a closed port', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    assert.equal(await failureOf(createNewConnectionGets(`http://127.0.0.1:${port}`, 1000, adapter).get('/', {})), 'ECONNREFUSED');
  });

  it('cancels what is in flight when destroyed, and sends nothing after', async () => {
    const server = await scriptedServer(() => {});
    try {
      const gets = createNewConnectionGets(`http://127.0.0.1:${server.port}`, 5000, adapter);
      const pending = [gets.get('/1', {}), gets.get('/2', {})];
      const started = performance.now();
      await new Promise((resolve) => setImmediate(resolve));
      gets.destroy();
      assert.deepEqual(await Promise.all(pending.map(failureOf)), ['CANCELLED', 'CANCELLED']);
      assert.ok(performance.now() - started < 1000);
      assert.equal(await failureOf(gets.get('/3', {})), 'CANCELLED');
    } finally {
      await server.close();
    }
    // The client's connections were closed, not only forgotten: none is left holding the process.
    await waitFor(() => !process.getActiveResourcesInfo().includes('TCPWrap'), 2000, 'no TCP connection left open');
  });

  it('connects to an IPv6 address', async () => {
    const v6 = createHttpServer((_req, res) => res.writeHead(204, { 'X-Zone': 'six' }).end());
    await new Promise<void>((resolve) => v6.listen(0, '::1', resolve));
    try {
      const answer = await createNewConnectionGets(`http://[::1]:${(v6.address() as AddressInfo).port}`, 2000, adapter).get('/', {});
      assert.deepEqual(answer, { status: 204, zone: 'six', instance: null });
    } finally {
      v6.closeAllConnections();
      await new Promise((resolve) => v6.close(resolve));
    }
  });
});

describe('the TCP adapter for a host', () => {
  it('is libuv handles for an address, net.Socket for a name or when ZONELAB_TCP=net asks', () => {
    assert.equal(libuvHandlesUsable(), true, 'this Node.js has the bindings');
    assert.equal(tcpAdapterFor('127.0.0.1', undefined), openLibuvHandle);
    assert.equal(tcpAdapterFor('::1', undefined), openLibuvHandle);
    assert.equal(tcpAdapterFor('localhost', undefined), openNetSocket);
    assert.equal(tcpAdapterFor('localhost', 'handle'), openNetSocket, 'a name needs resolving');
    assert.equal(tcpAdapterFor('127.0.0.1', 'net'), openNetSocket);
    const before = process.env.ZONELAB_TCP;
    process.env.ZONELAB_TCP = 'net';
    try {
      assert.equal(tcpAdapterFor('127.0.0.1'), openNetSocket);
    } finally {
      if (before === undefined) delete process.env.ZONELAB_TCP;
      else process.env.ZONELAB_TCP = before;
    }
  });

  it('is net.Socket where process.binding would warn (pending deprecations), and prints no warning', () => {
    const module = new URL('../../src/client/tcp/libuv-handle.js', import.meta.url).href;
    const script = `import(${JSON.stringify(module)}).then((m) => console.log(m.libuvHandlesUsable()))`;
    for (const env of [{ NODE_PENDING_DEPRECATION: '1' }, { NODE_OPTIONS: '--pending_deprecation' }]) {
      const child = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
      assert.equal(child.stdout.trim(), 'false', JSON.stringify(env));
      assert.doesNotMatch(child.stderr, /DEP0111/, JSON.stringify(env));
    }
  });

  it('reaches a server by name', async () => {
    const named = createHttpServer((_req, res) => res.writeHead(200, { 'X-Zone': 'named' }).end('ok'));
    await new Promise<void>((resolve) => named.listen(0, '127.0.0.1', resolve));
    try {
      const answer = await createNewConnectionGets(`http://localhost:${(named.address() as AddressInfo).port}`, 2000).get('/', {});
      assert.equal(answer.zone, 'named');
    } finally {
      named.closeAllConnections();
      await new Promise((resolve) => named.close(resolve));
    }
  });
});

async function writeSlowly(socket: Socket, text: string): Promise<void> {
  for (const byte of text) {
    if (socket.destroyed) return;
    socket.write(byte);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  socket.end();
}
