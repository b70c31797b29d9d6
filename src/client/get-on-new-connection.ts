import { connect, type Socket } from 'node:net';

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
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: |$)/;
/** A path is visible ASCII; a header name a token; a header value has no CR, LF or other control character (RFC 9110 §5). */
const PATH = /^\/[\x21-\x7e]*$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const UNSAFE_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * GETs over plain HTTP/1.1, each on a new TCP connection asking `Connection: close`: the
 * experiment's default, as the course client and a network load balancer see it. An HTTP
 * library costs more per connection than the connection itself: measured on loopback against
 * nginx, 64 at a time, a bare net socket writing one prepared request answered 11,000
 * requests/s at one core; `zonelab client` answered 7,400–8,000 this way and 6,500–7,200
 * through undici's Agent with `reset`. In a failover run at 1,000 requests/s the run's process went
 * from 0.52 of a core to 0.32. Half of what is left is the kernel's connect and close.
 * So only the head is parsed (status, X-Zone, X-Instance, Content-Length); the body is
 * counted, not kept. The answer is complete at Content-Length, or else when the server
 * closes, which it must after a request that asked it to (RFC 9112 §9.6).
 *
 * Timeouts are undici's: `timeoutMs` to connect (CONNECT_TIMEOUT), then for the head to
 * start and for each pause after (TIMEOUT): the socket's own idle timer, which every read
 * pushes back.
 */
export function createNewConnectionGets(origin: string, timeoutMs: number): NewConnectionGets {
  const url = new URL(origin);
  if (url.protocol !== 'http:') throw new Error(`new-connection GETs speak plain http, not ${url.protocol}`);
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
      if (!TOKEN.test(name) || UNSAFE_VALUE.test(value)) return Promise.reject(new AttemptError('EOTHER', `not a header: ${JSON.stringify(`${name}: ${value}`)}`));
      text += `${name}: ${value}\r\n`;
    }
    text += 'connection: close\r\n\r\n';
    if (destroyed) return Promise.reject(new AttemptError('CANCELLED', 'the run was stopped'));

    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      open.add(socket);
      socket.setTimeout(timeoutMs);
      socket.write(text, 'latin1');
      let connected = false;
      let settled = false;
      let head: Buffer | null = null;
      let answer: ZoneAnswer | null = null;
      /** Body bytes still to come, when the head gave their number … */
      let remaining = 0;
      /** … or else the body ends when the server closes. */
      let untilClose = false;

      const settle = (error: AttemptError | null) => {
        if (settled) return;
        settled = true;
        open.delete(socket);
        socket.destroy();
        if (error) reject(error);
        else resolve(answer!);
      };

      socket.once('connect', () => {
        connected = true;
      });
      socket.on('data', (chunk: Buffer) => {
        if (answer) {
          if (untilClose) return;
          remaining -= chunk.length;
          if (remaining <= 0) settle(null);
          return;
        }
        head = head ? Buffer.concat([head, chunk]) : chunk;
        // A 1xx interim response is followed by the real one, on the same connection.
        for (;;) {
          const end = head.indexOf(HEAD_END);
          if (end < 0) {
            if (head.length > MAX_HEAD_BYTES) settle(new AttemptError('EOTHER', `no end to the response head in ${MAX_HEAD_BYTES} bytes`));
            return;
          }
          const parsed = parseHead(head.toString('latin1', 0, end));
          if (!parsed) {
            settle(new AttemptError('EOTHER', 'not an HTTP/1.x response'));
            return;
          }
          const bodySoFar = head.length - end - HEAD_END.length;
          if (parsed.interim) {
            head = head.subarray(end + HEAD_END.length);
            continue;
          }
          answer = parsed.answer;
          head = null;
          if (parsed.contentLength === null) {
            untilClose = true;
            return;
          }
          remaining = parsed.contentLength - bodySoFar;
          if (remaining <= 0) settle(null);
          return;
        }
      });
      socket.on('end', () => {
        // The server closed: the answer is whole unless it promised more bytes than came.
        if (answer && (untilClose || remaining <= 0)) settle(null);
        else settle(new AttemptError('ECONNRESET', answer ? 'the connection closed before the whole body' : 'the connection closed before a response'));
      });
      socket.on('timeout', () => {
        settle(new AttemptError(connected ? 'TIMEOUT' : 'CONNECT_TIMEOUT', `no ${connected ? 'answer' : 'connection'} in ${timeoutMs} ms`));
      });
      // Every socket closes, most after their answer is settled: no error is made for those.
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (!settled) settle(new AttemptError(destroyed ? 'CANCELLED' : (error.code ?? 'EOTHER'), error.message));
      });
      socket.on('close', () => {
        if (!settled) settle(new AttemptError(destroyed ? 'CANCELLED' : 'ECONNRESET', 'the connection closed'));
      });
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

/** The status and the headers the records keep, or null when the head is not an HTTP/1.x response (pure). */
export function parseHead(head: string): { answer: ZoneAnswer; contentLength: number | null; interim: boolean } | null {
  const lines = head.split('\r\n');
  const status = STATUS_LINE.exec(lines[0]!);
  if (!status) return null;
  const answer: ZoneAnswer = { status: Number(status[1]), zone: null, instance: null };
  let contentLength: number | null = null;
  let chunked = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).toLowerCase();
    if (name === 'x-zone') answer.zone ??= line.slice(colon + 1).trim();
    else if (name === 'x-instance') answer.instance ??= line.slice(colon + 1).trim();
    else if (name === 'content-length') {
      const value = line.slice(colon + 1).trim();
      if (!/^\d+$/.test(value) || (contentLength !== null && contentLength !== Number(value))) return null;
      contentLength = Number(value);
    } else if (name === 'transfer-encoding') chunked = true;
  }
  // No body after these whatever the headers say (RFC 9110 §6.4.1); a chunked body, or
  // one with no length, ends when the server closes.
  const interim = answer.status >= 100 && answer.status < 200;
  if (interim || answer.status === 204 || answer.status === 304) return { answer, contentLength: 0, interim };
  return { answer, contentLength: chunked ? null : contentLength, interim };
}
