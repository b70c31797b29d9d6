import { connect, type Socket } from 'node:net';
import { type ChunkedBody, createChunkedBody } from './chunked-body.js';

/** What the load loop keeps of an answer. */
export interface ZoneAnswer {
  status: number;
  zone: string | null;
  instance: string | null;
}

/** A failed attempt, with the record's code (`ECONNRESET`, `TIMEOUT`, …) in `code`. */
export class AttemptError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface NewConnectionGets {
  /** One GET on a connection of its own, closed once the answer is in. */
  get(path: string, headers: Record<string, string>): Promise<ZoneAnswer>;
  /** Ends every connection still open; their attempts fail with `CANCELLED`. */
  destroy(): void;
}

/** A response head longer than this is refused rather than buffered. */
const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
/** Any HTTP/1 minor version is read as 1.1 (RFC 9110 §2.5). */
const STATUS_LINE = /^HTTP\/1\.\d (\d{3})(?: |$)/;
/** A path is visible ASCII but `#`; a header name a token; a header value has no CR, LF or other control character (RFC 9110 §5, RFC 9112 §3.2). */
const PATH = /^\/[\x21\x22\x24-\x7e]*$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const UNSAFE_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Headers this transport writes itself or that would change the request's framing: refused from a caller. */
const RESERVED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'expect', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-connection']);
/** The most a Node.js timer waits; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * GETs over plain HTTP/1.1, each on a new TCP connection asking `Connection: close`: the
 * experiment's default, as the course client and a network load balancer see it. An HTTP
 * library costs more per connection than the connection itself: measured on loopback against
 * nginx, 64 at a time, a bare net socket writing one prepared request answered 11,000
 * requests/s at one core; `zonelab client` answered 7,400–8,000 this way and 6,500–7,200
 * through undici's Agent with `reset`. In a failover run at 1,000 requests/s the run's
 * process went from 0.52 of a core to 0.32. Half of what is left is the kernel's connect
 * and close.
 * So only the head is parsed (status, X-Zone, X-Instance and the body's framing); the body
 * is skipped, not kept. The answer is complete at its Content-Length, at the end of a
 * chunked body, or else when the server closes, which it must after a request that asked it
 * to (RFC 9112 §6.3, §9.6); a body cut short of its framing is ECONNRESET, as in undici.
 *
 * Timeouts: `timeoutMs` to connect (CONNECT_TIMEOUT), then for the answer to start and for
 * each pause after (TIMEOUT): the socket's own idle timer, which every read pushes back.
 */
export function createNewConnectionGets(origin: string, timeoutMs: number): NewConnectionGets {
  const url = new URL(origin);
  if (url.protocol !== 'http:') throw new Error(`new-connection GETs speak plain http, not ${url.protocol}`);
  if (!(timeoutMs > 0)) throw new RangeError(`a timeout of more than 0 ms, not ${timeoutMs}`);
  const idleMs = Math.min(timeoutMs, MAX_TIMER_MS);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || 80);
  const hostHeader = `host: ${url.host}\r\n`;
  const open = new Set<Socket>();
  let destroyed = false;

  function get(path: string, headers: Record<string, string>): Promise<ZoneAnswer> {
    if (!PATH.test(path)) return Promise.reject(new AttemptError('EOTHER', `not a request path: ${JSON.stringify(path)}`));
    let text = `GET ${path} HTTP/1.1\r\n${hostHeader}`;
    for (const name in headers) {
      const value = headers[name]!;
      if (!TOKEN.test(name) || UNSAFE_VALUE.test(value) || RESERVED.has(name.toLowerCase())) {
        return Promise.reject(new AttemptError('EOTHER', `not a header this client sends: ${JSON.stringify(`${name}: ${value}`)}`));
      }
      text += `${name}: ${value}\r\n`;
    }
    text += 'connection: close\r\n\r\n';
    if (destroyed) return Promise.reject(new AttemptError('CANCELLED', 'the run was stopped'));

    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      open.add(socket);
      let connected = false;
      let settled = false;
      let head: Buffer | null = null;
      let answer: ZoneAnswer | null = null;
      /** How the body ends: at a count of bytes still to come, at the end of its chunks, or when the server closes. */
      let remaining = 0;
      let chunked: ChunkedBody | null = null;
      let untilClose = false;

      const settle = (error: AttemptError | null) => {
        if (settled) return;
        settled = true;
        open.delete(socket);
        socket.destroy();
        if (error) reject(error);
        else resolve(answer!);
      };
      const readBody = (chunk: Buffer, from: number) => {
        if (untilClose) return;
        if (chunked) {
          const framing = chunked.feed(chunk, from);
          if (framing === 'done') settle(null);
          else if (framing === 'bad') settle(new AttemptError('EOTHER', 'a chunked body out of its framing'));
          return;
        }
        remaining -= chunk.length - from;
        if (remaining <= 0) settle(null);
      };

      socket.once('connect', () => {
        connected = true;
      });
      socket.on('data', (chunk: Buffer) => {
        if (answer) {
          readBody(chunk, 0);
          return;
        }
        // The end of the head is looked for only in what is new (and the 3 bytes before it).
        let searchFrom = head ? Math.max(0, head.length - 3) : 0;
        head = head ? Buffer.concat([head, chunk]) : chunk;
        // A 1xx interim response is followed by the real one, on the same connection.
        for (;;) {
          const end = head.indexOf(HEAD_END, searchFrom);
          if (end < 0) {
            if (head.length > MAX_HEAD_BYTES) settle(new AttemptError('EOTHER', `no end to the response head in ${MAX_HEAD_BYTES} bytes`));
            return;
          }
          const parsed = parseHead(head.toString('latin1', 0, end));
          if (!parsed) {
            settle(new AttemptError('EOTHER', 'not an HTTP/1.x response'));
            return;
          }
          const bodyFrom = end + HEAD_END.length;
          if (parsed.interim) {
            head = head.subarray(bodyFrom);
            searchFrom = 0;
            continue;
          }
          answer = parsed.answer;
          const rest = head;
          head = null;
          if (parsed.body === 'chunked') chunked = createChunkedBody();
          else if (parsed.body === 'until-close') untilClose = true;
          else remaining = parsed.body;
          readBody(rest, bodyFrom);
          return;
        }
      });
      socket.on('end', () => {
        // The server closed: the answer is whole when its framing says so.
        if (answer && (untilClose || (!chunked && remaining <= 0))) settle(null);
        else settle(new AttemptError('ECONNRESET', answer ? 'the connection closed before the whole body' : 'the connection closed before a response'));
      });
      socket.on('timeout', () => {
        settle(new AttemptError(connected ? 'TIMEOUT' : 'CONNECT_TIMEOUT', `no ${connected ? 'answer' : 'connection'} in ${timeoutMs} ms`));
      });
      // Every socket closes, most after their answer is settled: no error is made for those.
      socket.on('error', (error: NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] }) => {
        if (!settled) settle(new AttemptError(destroyed ? 'CANCELLED' : connectErrorCode(error, connected), error.message));
      });
      socket.on('close', () => {
        if (!settled) settle(new AttemptError(destroyed ? 'CANCELLED' : 'ECONNRESET', 'the connection closed'));
      });
      socket.setTimeout(idleMs);
      socket.write(text, 'latin1');
    });
  }

  return {
    get,
    destroy() {
      destroyed = true;
      for (const socket of open) socket.destroy(new AttemptError('CANCELLED', 'the run was stopped'));
      open.clear();
    },
  };
}

/**
 * The record's code for a socket error. A name with several addresses is tried on each
 * (Node.js's autoSelectFamily) and fails with all their errors, under the first one's code:
 * a refusal among them is a refusal (retried), a connect that timed out is CONNECT_TIMEOUT.
 */
export function connectErrorCode(error: { code?: string | undefined; errors?: { code?: string | undefined }[] | undefined }, connected: boolean): string {
  const codes = [error.code, ...(error.errors ?? []).map((each) => each.code)];
  if (codes.includes('ECONNREFUSED')) return 'ECONNREFUSED';
  if (!connected && codes.some((code) => code === 'ETIMEDOUT' || code === 'ERR_SOCKET_CONNECTION_TIMEOUT')) return 'CONNECT_TIMEOUT';
  return error.code && /^E[A-Z]+$/.test(error.code) ? error.code : 'EOTHER';
}

/** How a body ends: after this many bytes, at the end of its chunks, or when the server closes. */
export type BodyFraming = number | 'chunked' | 'until-close';

/** The status, the headers the records keep and the body's framing, or null when the head is not an HTTP/1.x response (pure). */
export function parseHead(head: string): { answer: ZoneAnswer; body: BodyFraming; interim: boolean } | null {
  const lines = head.split('\r\n');
  const status = STATUS_LINE.exec(lines[0]!);
  if (!status) return null;
  const answer: ZoneAnswer = { status: Number(status[1]), zone: null, instance: null };
  let contentLength: number | null = null;
  let badLength = false;
  let transferEncoding: string | null = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    // A folded line continues the one before (obsolete, still to be accepted: RFC 9112 §5.2).
    if (line.startsWith(' ') || line.startsWith('\t')) continue;
    const colon = line.indexOf(':');
    // No whitespace between a name and its colon (RFC 9112 §5.1).
    if (colon <= 0 || line[colon - 1] === ' ' || line[colon - 1] === '\t') return null;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (name === 'x-zone') answer.zone ??= value;
    else if (name === 'x-instance') answer.instance ??= value;
    else if (name === 'transfer-encoding') transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
    else if (name === 'content-length') {
      // A list of one repeated value is that value (RFC 9110 §8.6).
      for (const item of value.split(',')) {
        const length = item.trim();
        if (!/^\d+$/.test(length) || (contentLength !== null && contentLength !== Number(length))) badLength = true;
        else contentLength = Number(length);
      }
    }
  }
  // No body after these whatever the headers say (RFC 9110 §6.4.1).
  const interim = answer.status >= 100 && answer.status < 200;
  if (interim || answer.status === 204 || answer.status === 304) return { answer, body: 0, interim };
  // Transfer-Encoding outranks Content-Length; chunked last is chunked, anything else ends at the close (RFC 9112 §6.3).
  if (transferEncoding !== null) return { answer, body: /(?:^|,)[ \t]*chunked[ \t]*$/i.test(transferEncoding) ? 'chunked' : 'until-close', interim };
  if (badLength) return null;
  return { answer, body: contentLength ?? 'until-close', interim };
}
