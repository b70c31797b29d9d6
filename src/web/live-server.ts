import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, isZonelabError, ZonelabError } from '../errors.js';
import { compiledLiveChart } from './chart-spec.js';
import { controlAllowed, hostAllowed, isLoopback, newToken } from './guard.js';
import { FAILED_SERIES, type LiveFeed, type LiveMessage } from './live-feed.js';
import { LIVE_CSS, LIVE_SCRIPT, renderLivePage } from './page.js';

/** What the lab view's buttons do; each resolves with one line saying what happened. */
export interface LiveControlActions {
  fault(zone: string, fault: string): Promise<string>;
  heal(zone: string): Promise<string>;
}

export interface LiveServerOptions {
  feed: LiveFeed;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  controls?: LiveControlActions | null;
}

export interface LiveServer {
  /** The page's address, with the control token. */
  readonly url: string;
  readonly token: string;
  /** Waits (up to `timeoutMs`) until every attached page has been sent all it was given, e.g. the final report. */
  drain(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
// A page that stops reading gets dropped past this, instead of growing our memory.
const MAX_BUFFERED_BYTES = 8 * 2 ** 20;
const MAX_BODY_BYTES = 4096;

/**
 * vega and the CSP-safe expression interpreter, from the installed packages. The
 * interpreter's one import is three vega-util functions that vega's own bundle exports:
 * served against the bundle, the page holds one copy of vega and needs no eval.
 */
function loadAssets(): Map<string, string> {
  // vega's main entry lives in its build folder, next to the browser bundle.
  const vegaBundle = join(dirname(require.resolve('vega')), 'vega.min.js');
  const interpreter = readFileSync(require.resolve('vega-interpreter'), 'utf8');
  const importLine = /^import \{ ([\w, ]+) \} from 'vega-util';$/m;
  const names = importLine.exec(interpreter)?.[1];
  if (!names) throw new ZonelabError('E_WEB_ASSETS', 'vega-interpreter changed its imports: the live page cannot serve it');
  return new Map([
    ['/assets/vega.min.js', readFileSync(vegaBundle, 'utf8')],
    ['/assets/vega-interpreter.js', interpreter.replace(importLine, `const { ${names} } = globalThis.vega;`)],
  ]);
}

const SECURITY_HEADERS = {
  // Nothing but this server, no eval, no framing by others; the report shown at the end
  // is inline (srcdoc) and needs its inline styles and data: images.
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  // The address carries the token: never in a Referer.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ZonelabError('E_WEB_BODY', `a control request carries at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Serves the live page of a feed: the page, its assets (from installed packages: it works
 * offline), server-sent events, and, when given actions, the lab's stop and start buttons.
 * Every request must name this server by IP or localhost (DNS rebinding); control requests
 * must also come from the page's own origin and carry the token the printed URL holds.
 */
export async function startLiveServer(options: LiveServerOptions): Promise<LiveServer> {
  const { feed } = options;
  const host = options.host ?? '127.0.0.1';
  const token = newToken();
  const assets = loadAssets();
  const { series, title, view } = feed.snapshot();
  // A lab has no phases: no phase legend on its chart.
  const chart = JSON.stringify(await compiledLiveChart(series.filter((name) => name !== FAILED_SERIES), { phases: view === 'failover' }));
  const page = renderLivePage(title);
  const streams = new Set<ServerResponse>();
  let busy = false;
  let port = 0;

  async function control(req: IncomingMessage, res: ServerResponse, action: 'fault' | 'heal'): Promise<void> {
    const actions = options.controls;
    if (!actions) return sendJson(res, 404, { error: 'this page has no controls' });
    const allowed = controlAllowed(
      { host: req.headers.host, origin: req.headers.origin, token: req.headers['x-zonelab-token'] as string | undefined },
      token,
    );
    if (!allowed) return sendJson(res, 403, { error: 'refused: control requests need the page’s own origin and the token of the address zonelab printed' });
    let body: { zone?: unknown; fault?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch (error) {
      return sendJson(res, isZonelabError(error) ? 413 : 400, { error: isZonelabError(error) ? error.message : 'the body is not JSON such as {"zone":"us-east1-b","fault":"kill"}' });
    }
    if (typeof body?.zone !== 'string' || (action === 'fault' && typeof body.fault !== 'string')) {
      return sendJson(res, 400, { error: action === 'fault' ? 'expected {"zone": "<zone>", "fault": "<fault>"}' : 'expected {"zone": "<zone>"}' });
    }
    if (busy) return sendJson(res, 409, { error: 'another action is still running; try again when it has finished' });
    busy = true;
    try {
      const message = action === 'fault' ? await actions.fault(body.zone, body.fault as string) : await actions.heal(body.zone);
      sendJson(res, 200, { message });
    } catch (error) {
      const code = isZonelabError(error) ? error.code : '';
      const status = code === 'E_NO_TARGET' ? 404 : code === 'E_BAD_FAULT' || code === 'E_BAD_ARGUMENT' ? 400 : isZonelabError(error) ? 409 : 500;
      sendJson(res, status, { error: describeError(error) });
    } finally {
      busy = false;
    }
  }

  function events(res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    streams.add(res);
    const write = (message: LiveMessage) => {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        return;
      }
      res.write(`data: ${JSON.stringify(message)}\n\n`);
    };
    const detach = feed.subscribe(write);
    res.on('close', () => {
      detach();
      streams.delete(res);
    });
  }

  const server = createServer((req, res) => {
    if (!hostAllowed(req.headers.host, port)) return send(res, 421, 'text/plain; charset=utf-8', 'refused: address this page by IP or localhost\n');
    const path = new URL(req.url ?? '/', 'http://page').pathname;
    if (req.method === 'POST' && (path === '/control/fault' || path === '/control/heal')) {
      control(req, res, path === '/control/fault' ? 'fault' : 'heal').catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: describeError(error) });
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    if (path === '/') return send(res, 200, 'text/html; charset=utf-8', page);
    if (path === '/app.js') return send(res, 200, 'text/javascript; charset=utf-8', LIVE_SCRIPT);
    if (path === '/page.css') return send(res, 200, 'text/css; charset=utf-8', LIVE_CSS);
    if (path === '/chart.json') return send(res, 200, 'application/json; charset=utf-8', chart);
    if (path === '/events') return events(res);
    const asset = assets.get(path);
    if (asset !== undefined) return send(res, 200, 'text/javascript; charset=utf-8', asset);
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  });
  // A page left open must not keep a finished run's process alive.
  server.keepAliveTimeout = 2000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new ZonelabError(
          error.code === 'EADDRINUSE' ? 'E_PORT_BUSY' : 'E_WEB_LISTEN',
          error.code === 'EADDRINUSE' ? `--web ${host}:${options.port}: the port is in use (pick another, or 0 for a free one)` : `--web ${host}:${options.port}: ${error.message}`,
        ),
      ),
    );
    server.listen(options.port ?? 0, host, resolve);
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;

  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    token,
    async drain(timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      while ([...streams].some((res) => res.writableLength > 0) && Date.now() < deadline) await sleep(20);
    },
    async close() {
      for (const res of streams) res.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** A warning line when the page listens beyond this machine. */
export function exposureWarning(host: string): string | null {
  return isLoopback(host) ? null : `the live page listens on ${host}: anyone who can reach it sees the lab; only the printed address (with its token) can act on it`;
}
