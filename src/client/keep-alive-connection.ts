import { connect, type Socket } from 'node:net';
import { AttemptError, connectErrorCode, createResponseReader, plainHttpTarget, type ResponseReader, requestHead, type ZoneAnswer } from './http1.js';

/** How one GET on a kept connection ended; `reused` when it went on a connection that had carried an answer before. */
export type KeptConnectionAnswer = { answer: ZoneAnswer; error: null; reused: boolean } | { answer: null; error: AttemptError; reused: boolean };

export interface KeepAliveConnection {
  /** One GET, after those asked before it; never rejects: a failure is in `error`. */
  get(path: string, headers: Record<string, string>): Promise<KeptConnectionAnswer>;
  /** Ends the connection; what is in flight or waiting fails with `CANCELLED`. */
  destroy(): void;
}

/** A connection idle this long is closed by the client, as undici's Client was told to (`keepAliveTimeout`). */
const IDLE_CLOSE_MS = 30_000;
/**
 * A connection is not reused this close to the idle timeout the server announced: its close
 * could cross the request on the wire (undici keeps a margin for the same reason,
 * `keepAliveTimeoutThreshold`).
 */
const SERVER_IDLE_MARGIN_MS = 1000;

interface Waiting {
  text: string;
  resolve: (answer: KeptConnectionAnswer) => void;
}

/**
 * GETs over plain HTTP/1.1 on one connection kept alive, one request at a time (no
 * pipelining, so whether an answer came on a new connection is known exactly): the
 * `--keepalive` transport. A connection the server closes, one whose answer said
 * `Connection: close` or had no length, one with bytes after its answer, and one that
 * failed or timed out are not reused: the next GET opens a new one. Measured on loopback
 * against one nginx worker, 2 cores: at 20,000 requests/s for 5 s the client took 2.7–3.1 s
 * of CPU this way and 3.2–4.1 s through undici Clients; flat out, 64 connections answered
 * about as many requests either way (the rest of the client and the server share the cores).
 *
 * Timeouts as for new connections: `timeoutMs` to connect (CONNECT_TIMEOUT), then for the
 * answer to start and each pause after (TIMEOUT); no timer while the connection is idle.
 */
export function createKeepAliveConnection(origin: string, timeoutMs: number): KeepAliveConnection {
  const { host, port, hostHeader, idleMs } = plainHttpTarget(origin, timeoutMs, 'kept connections');
  const waiting: Waiting[] = [];
  let socket: Socket | null = null;
  let connected = false;
  /** Answers the current socket has carried. */
  let carried = 0;
  /** Until when (performance.now()) the idle socket may carry another request. */
  let reusableUntil = 0;
  let current: { reader: ResponseReader; reused: boolean; resolve: Waiting['resolve'] } | null = null;
  let destroyed = false;

  function drop(): void {
    socket?.destroy();
    socket = null;
  }

  function finish(outcome: 'done' | AttemptError, keep: boolean): void {
    const { reader, reused, resolve } = current!;
    current = null;
    if (keep && outcome === 'done' && reader.reusable) {
      carried++;
      reusableUntil = performance.now() + Math.min(IDLE_CLOSE_MS, (reader.keepAliveMs ?? Number.POSITIVE_INFINITY) - SERVER_IDLE_MARGIN_MS);
    } else {
      drop();
    }
    resolve(outcome === 'done' ? { answer: reader.answer!, error: null, reused } : { answer: null, error: outcome, reused });
    later();
  }

  function open(): Socket {
    // No Nagle delay: a request is one write, and waits for nothing (undici does the same).
    const opened = connect({ host, port, noDelay: true });
    connected = false;
    carried = 0;
    // Events of a socket that is no longer the current one (dropped, replaced) are ignored.
    opened.once('connect', () => {
      if (opened === socket) connected = true;
    });
    opened.on('data', (chunk: Buffer) => {
      if (opened !== socket) return;
      // Bytes on an idle connection answer nothing that was asked: it is not reused.
      if (!current) {
        drop();
        return;
      }
      const read = current.reader.feed(chunk);
      if (read !== 'more') finish(read, read === 'done');
    });
    opened.on('end', () => {
      if (opened !== socket) return;
      if (current) finish(current.reader.closed(), false);
      else drop();
    });
    // One idle timer for the socket's life, pushed back by every read and write: while a GET
    // is out it is the GET's timeout; a connection idle that long between GETs is closed.
    opened.setTimeout(idleMs);
    opened.on('timeout', () => {
      if (opened !== socket) return;
      if (current) finish(new AttemptError(connected ? 'TIMEOUT' : 'CONNECT_TIMEOUT', `no ${connected ? 'answer' : 'connection'} in ${timeoutMs} ms`), false);
      else drop();
    });
    opened.on('error', (error: NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] }) => {
      if (opened === socket && current) finish(new AttemptError(connectErrorCode(error, connected), error.message), false);
    });
    opened.on('close', () => {
      if (opened !== socket) return;
      if (current) finish(new AttemptError('ECONNRESET', 'the connection closed'), false);
      else socket = null;
    });
    return opened;
  }

  let scheduled = false;
  const runScheduled = () => {
    scheduled = false;
    next();
  };
  /**
   * The next GET is written after the event loop has read what else arrived: the requests
   * of many connections then reach the server together rather than one per wake-up of its
   * event loop. Measured against one nginx worker on 2 cores: written at once from the
   * answer's callback, 64 connections answered 0.8 as many requests as undici, which defers
   * its writes the same way.
   */
  function later(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(runScheduled);
  }

  function next(): void {
    if (current || destroyed) return;
    const request = waiting.shift();
    if (!request) return;
    if (socket && (socket.destroyed || performance.now() > reusableUntil)) drop();
    const reused = socket !== null && carried > 0;
    socket ??= open();
    current = { reader: createResponseReader(), reused, resolve: request.resolve };
    socket.write(request.text, 'latin1');
  }

  return {
    get(path, headers) {
      const text = requestHead(path, headers, hostHeader, false);
      if (text instanceof AttemptError) return Promise.resolve({ answer: null, error: text, reused: false });
      if (destroyed) return Promise.resolve({ answer: null, error: new AttemptError('CANCELLED', 'the run was stopped'), reused: false });
      return new Promise((resolve) => {
        waiting.push({ text, resolve });
        later();
      });
    },
    destroy() {
      destroyed = true;
      const cancelled = new AttemptError('CANCELLED', 'the run was stopped');
      if (current) {
        current.resolve({ answer: null, error: cancelled, reused: current.reused });
        current = null;
      }
      for (const request of waiting.splice(0)) request.resolve({ answer: null, error: cancelled, reused: false });
      drop();
    },
  };
}
