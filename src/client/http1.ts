import { type ChunkedBody, createChunkedBody } from './chunked-body.js';

/**
 * The parts of HTTP/1.1 the client's own transports share (a new connection per GET, and
 * connections kept alive): the request's head, and a reader of the response that parses
 * only the head (status, X-Zone, X-Instance, the body's framing and whether the connection
 * stays open) and skips the body without keeping it.
 */

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

/** A response head longer than this is refused rather than buffered. */
const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
/** Any HTTP/1 minor version from 1 up is read as 1.1 (RFC 9110 §2.5). */
const STATUS_LINE = /^HTTP\/1\.(\d) (\d{3})(?: |\r\n|$)/;
/** A path is visible ASCII but `#`; a header name a token; a header value has no CR, LF or other control character (RFC 9110 §5, RFC 9112 §3.2). */
const PATH = /^\/[\x21\x22\x24-\x7e]*$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const UNSAFE_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Headers the transports write themselves or that would change the request's framing: refused from a caller. */
const RESERVED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'expect', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-connection']);
/** The response headers parseHead reads; the rest are skipped. */
const READ_HEADERS = ['x-zone', 'x-instance', 'transfer-encoding', 'connection', 'keep-alive', 'content-length'];
const DIGITS = /^\d+$/;
const CHUNKED_LAST = /(?:^|,)[ \t]*chunked[ \t]*$/i;
/** `Keep-Alive: timeout=5, max=1000`: how long, in seconds, the server keeps an idle connection (RFC 2068 §19.7.1.1, as Node.js and nginx send it). */
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout=(\d+)/i;

/** The most a Node.js timer waits; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Where the transports connect, and the idle timeout of their sockets. */
export interface PlainHttpTarget {
  host: string;
  port: number;
  /** `host: …\r\n`, for `requestHead`. */
  hostHeader: string;
  idleMs: number;
}

/** The target of `origin` (plain http only) with a timeout of `timeoutMs`; throws on anything else. */
export function plainHttpTarget(origin: string, timeoutMs: number, what: string): PlainHttpTarget {
  const url = new URL(origin);
  if (url.protocol !== 'http:') throw new Error(`${what} speak plain http, not ${url.protocol}`);
  if (!(timeoutMs > 0)) throw new RangeError(`a timeout of more than 0 ms, not ${timeoutMs}`);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 80), hostHeader: `host: ${url.host}\r\n`, idleMs: Math.min(timeoutMs, MAX_TIMER_MS) };
}

/**
 * The head of a GET of `path` with the caller's `headers` after `hostHeader` (`host: …\r\n`),
 * asking the server to close the connection after its answer when `close`; an
 * AttemptError (EOTHER) for a path or a header this client does not send.
 */
export function requestHead(path: string, headers: Record<string, string>, hostHeader: string, close: boolean): string | AttemptError {
  if (!PATH.test(path)) return new AttemptError('EOTHER', `not a request path: ${JSON.stringify(path)}`);
  let text = `GET ${path} HTTP/1.1\r\n${hostHeader}`;
  for (const name in headers) {
    const value = headers[name]!;
    if (!TOKEN.test(name) || UNSAFE_VALUE.test(value) || RESERVED.has(name.toLowerCase())) {
      return new AttemptError('EOTHER', `not a header this client sends: ${JSON.stringify(`${name}: ${value}`)}`);
    }
    text += `${name}: ${value}\r\n`;
  }
  return `${text}${close ? 'connection: close\r\n' : ''}\r\n`;
}

/** How a body ends: after this many bytes, at the end of its chunks, or when the server closes. */
export type BodyFraming = number | 'chunked' | 'until-close';

export interface ParsedHead {
  answer: ZoneAnswer;
  body: BodyFraming;
  /** A 1xx response: the real one follows on the same connection. */
  interim: boolean;
  /** The server keeps the connection open after this answer (RFC 9112 §9.3). */
  persistent: boolean;
  /** How long the server keeps an idle connection open, when it says (`Keep-Alive: timeout=…`), ms. */
  keepAliveMs: number | null;
}

/** The header parseHead reads that `head` names from `from` to `to`, compared without case and without slicing the name out; null for one it skips. */
function readHeaderAt(head: string, from: number, to: number): string | null {
  for (const name of READ_HEADERS) {
    if (name.length !== to - from) continue;
    let same = true;
    for (let i = 0; i < name.length && same; i++) {
      const code = head.charCodeAt(from + i);
      // ASCII letters only are folded: `toLowerCase` would fold nothing else these names hold.
      same = (code >= 0x41 && code <= 0x5a ? code + 0x20 : code) === name.charCodeAt(i);
    }
    if (same) return name;
  }
  return null;
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * The status, the headers the records keep, the body's framing and the connection's
 * future, or null when the head is not an HTTP/1.x response (pure). The head is scanned
 * in place: of the ten or so lines a server sends, the few read are the only ones sliced
 * out. Measured on nginx's head, 0.9 µs a head against 3.0 µs split into lines with every
 * name lower-cased, at thousands of new connections a second.
 */
export function parseHead(head: string): ParsedHead | null {
  const status = STATUS_LINE.exec(head);
  if (!status) return null;
  const answer: ZoneAnswer = { status: Number(status[2]), zone: null, instance: null };
  let contentLength: number | null = null;
  let badLength = false;
  let transferEncoding: string | null = null;
  let connection = '';
  let keepAliveMs: number | null = null;
  let end = head.indexOf('\r\n');
  if (end < 0) end = head.length;
  while (end < head.length) {
    const start = end + 2;
    end = head.indexOf('\r\n', start);
    if (end < 0) end = head.length;
    // A folded line continues the one before (obsolete, still to be accepted: RFC 9112 §5.2).
    if (isBlank(head.charCodeAt(start))) continue;
    const colon = head.indexOf(':', start);
    // No whitespace between a name and its colon (RFC 9112 §5.1).
    if (colon <= start || colon > end || isBlank(head.charCodeAt(colon - 1))) return null;
    const name = readHeaderAt(head, start, colon);
    if (name === null) continue;
    // Only the headers read are trimmed: most of a head (Date, Server, ETag…) is skipped as it is.
    let from = colon + 1;
    let to = end;
    while (from < to && isBlank(head.charCodeAt(from))) from++;
    while (to > from && isBlank(head.charCodeAt(to - 1))) to--;
    const value = head.slice(from, to);
    if (name === 'x-zone') answer.zone ??= value;
    else if (name === 'x-instance') answer.instance ??= value;
    else if (name === 'transfer-encoding') transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
    else if (name === 'connection') connection += `,${value.toLowerCase()}`;
    else if (name === 'keep-alive') {
      const timeout = KEEP_ALIVE_TIMEOUT.exec(value);
      if (timeout) keepAliveMs = Number(timeout[1]) * 1000;
    } else {
      // A list of one repeated value is that value (RFC 9110 §8.6).
      for (const item of value.split(',')) {
        const length = item.trim();
        if (!DIGITS.test(length) || (contentLength !== null && contentLength !== Number(length))) badLength = true;
        else contentLength = Number(length);
      }
    }
  }
  const options = connection.split(',').map((option) => option.trim());
  // HTTP/1.1 keeps the connection unless told to close it; HTTP/1.0 closes it unless told to keep it (RFC 9112 §9.3).
  const persistent = Number(status[1]) >= 1 ? !options.includes('close') : options.includes('keep-alive');
  // No body after these whatever the headers say (RFC 9110 §6.4.1).
  const interim = answer.status >= 100 && answer.status < 200;
  if (interim || answer.status === 204 || answer.status === 304) return { answer, body: 0, interim, persistent, keepAliveMs };
  // Transfer-Encoding outranks Content-Length; chunked last is chunked, anything else ends at the close (RFC 9112 §6.3).
  if (transferEncoding !== null) return { answer, body: CHUNKED_LAST.test(transferEncoding) ? 'chunked' : 'until-close', interim, persistent, keepAliveMs };
  if (badLength) return null;
  return { answer, body: contentLength ?? 'until-close', interim, persistent, keepAliveMs };
}

/** Reads one response as its bytes arrive; see `createResponseReader`. */
export interface ResponseReader {
  /** Reads what arrived: `more` until the answer is whole, then `done`; an AttemptError (EOTHER) when it is not an HTTP/1.x response. */
  feed(chunk: Buffer): 'more' | 'done' | AttemptError;
  /** The server closed the connection: `done` when that ends the answer, else ECONNRESET (cut short, as in undici). */
  closed(): 'done' | AttemptError;
  /** The answer, once its head is in. */
  readonly answer: ZoneAnswer | null;
  /** Once `done`: the connection can carry another request (the server keeps it, and nothing came after the answer). */
  readonly reusable: boolean;
  /** The server's idle timeout for the connection, when it said, ms. */
  readonly keepAliveMs: number | null;
}

/**
 * A reader of one response. The answer is complete at its Content-Length, at the end of a
 * chunked body, or else when the server closes (RFC 9112 §6.3); 1xx interim responses
 * before it are skipped. The end of the head is looked for only in what is new. A class,
 * not an object of closures and getters: one is made per request, and its methods are
 * made once.
 */
class Http1ResponseReader implements ResponseReader {
  private head: Buffer | null = null;
  private parsed: ParsedHead | null = null;
  /** How the body ends: at a count of bytes still to come, at the end of its chunks, or when the server closes. */
  private remaining = 0;
  private chunked: ChunkedBody | null = null;
  private untilClose = false;
  private trailing = false;

  feed(chunk: Buffer): 'more' | 'done' | AttemptError {
    if (this.parsed) return this.readBody(chunk, 0);
    // The end of the head is looked for only in what is new (and the 3 bytes before it).
    let searchFrom = this.head ? Math.max(0, this.head.length - 3) : 0;
    let head = this.head ? Buffer.concat([this.head, chunk]) : chunk;
    for (;;) {
      const end = head.indexOf(HEAD_END, searchFrom);
      if (end < 0) {
        this.head = head;
        return head.length > MAX_HEAD_BYTES ? new AttemptError('EOTHER', `no end to the response head in ${MAX_HEAD_BYTES} bytes`) : 'more';
      }
      const read = parseHead(head.toString('latin1', 0, end));
      if (!read) return new AttemptError('EOTHER', 'not an HTTP/1.x response');
      const bodyFrom = end + HEAD_END.length;
      if (read.interim) {
        head = head.subarray(bodyFrom);
        searchFrom = 0;
        continue;
      }
      this.parsed = read;
      this.head = null;
      if (read.body === 'chunked') this.chunked = createChunkedBody();
      else if (read.body === 'until-close') this.untilClose = true;
      else this.remaining = read.body;
      return this.readBody(head, bodyFrom);
    }
  }

  private readBody(chunk: Buffer, from: number): 'more' | 'done' | AttemptError {
    if (this.untilClose) return 'more';
    if (this.chunked) {
      const framing = this.chunked.feed(chunk, from);
      if (framing === 'bad') return new AttemptError('EOTHER', 'a chunked body out of its framing');
      if (framing === 'done') this.trailing = this.chunked.trailing > 0;
      return framing;
    }
    this.remaining -= chunk.length - from;
    if (this.remaining > 0) return 'more';
    this.trailing = this.remaining < 0;
    return 'done';
  }

  closed(): 'done' | AttemptError {
    if (this.parsed && (this.untilClose || (!this.chunked && this.remaining <= 0))) return 'done';
    return new AttemptError('ECONNRESET', this.parsed ? 'the connection closed before the whole body' : 'the connection closed before a response');
  }

  get answer(): ZoneAnswer | null {
    return this.parsed?.answer ?? null;
  }

  get reusable(): boolean {
    return (this.parsed?.persistent ?? false) && !this.untilClose && !this.trailing;
  }

  get keepAliveMs(): number | null {
    return this.parsed?.keepAliveMs ?? null;
  }
}

export function createResponseReader(): ResponseReader {
  return new Http1ResponseReader();
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
