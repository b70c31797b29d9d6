import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ZonelabError } from '../../src/errors.js';
import { LiveFeed, type LiveMessage, type LiveServer, startLiveServer } from '../../src/web/index.js';
import { httpRequest } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

/** Reads server-sent events from `url` until `enough` says so; resolves with the messages. */
function readEvents(url: string, enough: (messages: LiveMessage[]) => boolean): Promise<LiveMessage[]> {
  return new Promise((resolve, reject) => {
    const messages: LiveMessage[] = [];
    let buffer = '';
    const req = request(url, { agent: false }, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (data) messages.push(JSON.parse(data.slice(6)) as LiveMessage);
        }
        if (enough(messages)) {
          req.destroy();
          resolve(messages);
        }
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error(`events: not enough within 5 s (${messages.length} messages)`)));
    req.on('error', reject);
    req.end();
  });
}

/** Opens a stream of server-sent events and keeps it open: its first message, and how it ended. */
function openStream(url: string): { first: Promise<LiveMessage>; ended: Promise<string> } {
  let resolveFirst: (message: LiveMessage) => void = () => {};
  let rejectFirst: (error: Error) => void = () => {};
  const first = new Promise<LiveMessage>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  const ended = new Promise<string>((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        // Blocks without data (the retry hint) come first: every block is looked at.
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const data = buffer.slice(0, end).split('\n').find((line) => line.startsWith('data: '));
          buffer = buffer.slice(end + 2);
          if (data) resolveFirst(JSON.parse(data.slice(6)) as LiveMessage);
        }
      });
      // Ended cleanly or cut: either way the server ended it.
      res.on('close', () => resolve('ended by the server'));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('the stream was still open 10 s later')));
    req.on('error', (error) => {
      rejectFirst(error);
      reject(error);
    });
    req.end();
  });
  return { first, ended };
}

describe('the live page server (real HTTP on loopback; stand-in lab controls that record what they are asked)', () => {
  let feed: LiveFeed;
  let server: LiveServer;
  let base: string;
  let host: string;
  const actions: string[] = [];
  let release: (() => void) | null = null;

  before(async () => {
    feed = new LiveFeed({ title: 'lab <test>', view: 'lab', zones: ['us-east1-b', 'us-east1-c'], controls: { zones: ['us-east1-b'], faults: ['kill'], command: 'zonelab lab' } });
    server = await startLiveServer({
      feed,
      controls: {
        async fault(zone, fault) {
          if (zone === 'nowhere') throw new ZonelabError('E_NO_TARGET', 'no zone or instance named "nowhere"');
          if (fault === 'slow') await new Promise<void>((resolve) => (release = resolve));
          actions.push(`fault ${zone} ${fault}`);
          return `${fault} on ${zone}-vm1`;
        },
        async heal(zone) {
          actions.push(`heal ${zone}`);
          return `${zone}-vm1 healed`;
        },
      },
    });
    const url = new URL(server.url);
    base = `${url.protocol}//${url.host}`;
    host = url.host;
  });
  after(async () => {
    await server.close();
    feed.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    httpRequest(`${base}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', origin: `http://${host}`, 'x-zonelab-token': server.token, ...headers },
    });

  it('prints a loopback address with a free port and a token', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/);
  });

  it('serves the page, its script and vega from the installed packages, under a policy that allows nothing from elsewhere', async () => {
    const page = await httpRequest(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>lab &#60;test&#62;<\/title>/, 'the title is escaped');
    const policy = String(page.headers['content-security-policy']);
    assert.match(policy, /default-src 'none'/);
    assert.match(policy, /script-src 'self';/, 'no eval, no inline script');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    for (const path of ['/app.js', '/page.css', '/chart.json', '/assets/vega.min.js', '/assets/vega-interpreter.js']) {
      const asset = await httpRequest(`${base}${path}`);
      assert.equal(asset.status, 200, path);
    }
    // That the page asks nothing of any other address is checked in a real browser (live-browser.test).
    assert.doesNotMatch((await httpRequest(`${base}/assets/vega-interpreter.js`)).body, /from 'vega-util'/);
    assert.equal((await httpRequest(`${base}/nothing`)).status, 404);
    assert.equal((await httpRequest(`${base}/`, { method: 'DELETE' })).status, 405);
  });

  it('refuses a request that names the server by another host name (DNS rebinding) with 421', async () => {
    const answer = await httpRequest(`${base}/events`, { headers: { host: `attacker.example:${new URL(base).port}` } });
    assert.equal(answer.status, 421);
  });

  it('streams a snapshot, then the bins as they close', async () => {
    feed.count('us-east1-b', 5);
    const messages = await readEvents(`${base}/events`, (m) => m.some((x) => x.type === 'bins' && x.bins.length > 0) || m.length > 30);
    assert.equal(messages[0]?.type, 'snapshot');
    const bins = messages.flatMap((m) => (m.type === 'bins' ? m.bins : m.type === 'snapshot' ? m.bins : []));
    assert.deepEqual(bins.map((b) => [b.series, b.n]), [['us-east1-b', 5]]);
  });

  it('acts only for the page’s own origin with the token: no token, another origin, a bad token are 403', async () => {
    assert.equal((await post('/control/fault', { zone: 'us-east1-b', fault: 'kill' }, { 'x-zonelab-token': '' })).status, 403);
    assert.equal((await post('/control/fault', { zone: 'us-east1-b', fault: 'kill' }, { origin: 'http://evil.example' })).status, 403);
    assert.equal((await post('/control/fault', { zone: 'us-east1-b', fault: 'kill' }, { 'x-zonelab-token': 'x'.repeat(43) })).status, 403);
    assert.deepEqual(actions, []);
    const done = await post('/control/fault', { zone: 'us-east1-b', fault: 'kill' });
    assert.equal(done.status, 200);
    assert.deepEqual(JSON.parse(done.body), { message: 'kill on us-east1-b-vm1' });
    assert.equal((await post('/control/heal', { zone: 'us-east1-b' })).status, 200);
    assert.deepEqual(actions, ['fault us-east1-b kill', 'heal us-east1-b']);
  });

  it('answers bad bodies 400, unknown zones 404, a second action while one runs 409, and stays up', async () => {
    const notJson = await httpRequest(`${base}/control/heal`, { method: 'POST', body: '{', headers: { origin: `http://${host}`, 'x-zonelab-token': server.token } });
    assert.equal(notJson.status, 400);
    assert.equal((await post('/control/fault', { zone: 'us-east1-b' })).status, 400);
    assert.equal((await post('/control/heal', { zone: 'x'.repeat(5000) })).status, 413);
    const unknown = await post('/control/heal', { zone: 'nowhere' });
    assert.equal(unknown.status, 200, 'heal of the stand-in does not check zones');
    const missing = await post('/control/fault', { zone: 'nowhere', fault: 'kill' });
    assert.equal(missing.status, 404);
    assert.match(JSON.parse(missing.body).error, /no zone or instance named "nowhere"/);
    const slow = post('/control/fault', { zone: 'us-east1-b', fault: 'slow' });
    await waitFor(() => release !== null, 5000, 'the slow action to start');
    assert.equal((await post('/control/heal', { zone: 'us-east1-b' })).status, 409);
    release!();
    assert.equal((await slow).status, 200);
    assert.equal((await httpRequest(`${base}/`)).status, 200);
  });
});

describe('the live page server without controls, and on a busy port', () => {
  it('has no control routes, and says which port is busy', async () => {
    const feed = new LiveFeed({ title: 'run', view: 'failover', zones: ['a', 'b'] });
    const server = await startLiveServer({ feed });
    try {
      const url = new URL(server.url);
      const answer = await httpRequest(`${url.origin}/control/heal`, { method: 'POST', body: '{}', headers: { origin: url.origin, 'x-zonelab-token': server.token } });
      assert.equal(answer.status, 404);
      await assert.rejects(startLiveServer({ feed, port: Number(url.port) }), (error: ZonelabError) => {
        assert.equal(error.code, 'E_PORT_BUSY');
        assert.match(error.message, new RegExp(`--web 127\\.0\\.0\\.1:${url.port}: the port is in use`));
        return true;
      });
    } finally {
      await server.close();
      feed.close();
    }
  });

  it('sends a late page the final report, and close() ends the streams', async () => {
    const feed = new LiveFeed({ title: 'run', view: 'failover', zones: ['a', 'b'] });
    const server = await startLiveServer({ feed });
    let stream: { first: Promise<LiveMessage>; ended: Promise<string> } | undefined;
    try {
      feed.done({ lines: ['time to reroute: 1.00 s'], reportHtml: '<h2>Answers</h2>' });
      const origin = new URL(server.url).origin;
      const [snapshot] = await readEvents(`${origin}/events`, (m) => m.length >= 1);
      assert.equal(snapshot?.type === 'snapshot' && snapshot.done?.reportHtml, '<h2>Answers</h2>');
      // A page still attached when the server closes: its stream is ended by the server.
      stream = openStream(`${origin}/events`);
      assert.equal((await stream.first).type, 'snapshot');
    } finally {
      await server.close();
      feed.close();
    }
    assert.equal(await stream.ended, 'ended by the server');
  });
});
