import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { TcpConnection, TcpEvents } from './index.js';

/**
 * A TCP connection on the libuv handle that `net.Socket` wraps, without the stream, the
 * event emitter and the buffering around it: what one GET on a connection of its own needs
 * is a connect, one small write, reads and a close. Measured on loopback against one nginx
 * worker, 64 at a time, a connection per GET: `net.Socket` answered 12,000–13,000
 * requests/s at 2.2 s of user CPU in 4 s; handles answered 20,000 at 0.4 s, as many as wrk
 * sending `Connection: close` (21,500–23,000), the kernel's connect and close being the
 * rest. The bindings are Node.js's internals, reached through `process.binding`
 * (documentation-only deprecated, DEP0111: no warning unless `--pending-deprecation`); they
 * are the same in Node.js 20, 24 and 26 and are checked before use, and `net.Socket` is
 * used where they are missing or different (see `libuvHandlesUsable`).
 */

interface ConnectRequest {
  oncomplete: (status: number) => void;
}
interface WriteRequest {
  handle: TcpHandle;
  oncomplete: (status: number) => void;
  async: boolean;
}
interface TcpHandle {
  connect(request: ConnectRequest, address: string, port: number): number;
  connect6(request: ConnectRequest, address: string, port: number): number;
  readStart(): number;
  /** A status; a write request of its own in Node.js versions that make one (24 and later do when given none). */
  writeLatin1String(request: WriteRequest, text: string): number | (WriteRequest & { writeStatus?: number | null });
  onread: (buffer: ArrayBuffer | undefined) => void;
  close(): void;
}
interface Bindings {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectRequest;
  WriteWrap: new () => WriteRequest;
  socketType: number;
  /** Where a read's byte count (or error) and its offset in the buffer are left for `onread`. */
  state: Int32Array;
  readBytesOrError: number;
  arrayBufferOffset: number;
}

/** libuv's end of stream (UV_EOF), the same on every platform. */
const UV_EOF = -4095;

let bindings: Bindings | null | undefined;

function loadBindings(): Bindings | null {
  const binding = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
  // With --pending-deprecation (or its variable), process.binding warns: the public API is used instead.
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map((flag) => flag.replaceAll('_', '-'));
  const pending = flags.includes('--pending-deprecation') || process.env.NODE_PENDING_DEPRECATION === '1';
  if (typeof binding !== 'function' || pending) return null;
  try {
    const tcp = binding('tcp_wrap') as { TCP?: unknown; TCPConnectWrap?: unknown; constants?: { SOCKET?: unknown } };
    const stream = binding('stream_wrap') as { WriteWrap?: unknown; streamBaseState?: unknown; kReadBytesOrError?: unknown; kArrayBufferOffset?: unknown };
    const usable =
      typeof tcp.TCP === 'function' &&
      typeof tcp.TCPConnectWrap === 'function' &&
      typeof tcp.constants?.SOCKET === 'number' &&
      typeof stream.WriteWrap === 'function' &&
      stream.streamBaseState instanceof Int32Array &&
      typeof stream.kReadBytesOrError === 'number' &&
      typeof stream.kArrayBufferOffset === 'number';
    if (!usable) return null;
    const candidate: Bindings = {
      TCP: tcp.TCP as Bindings['TCP'],
      TCPConnectWrap: tcp.TCPConnectWrap as Bindings['TCPConnectWrap'],
      WriteWrap: stream.WriteWrap as Bindings['WriteWrap'],
      socketType: tcp.constants!.SOCKET as number,
      state: stream.streamBaseState as Int32Array,
      readBytesOrError: stream.kReadBytesOrError as number,
      arrayBufferOffset: stream.kArrayBufferOffset as number,
    };
    const probe = new candidate.TCP(candidate.socketType);
    const methods = ['connect', 'connect6', 'readStart', 'writeLatin1String', 'close'] as const;
    const complete = methods.every((method) => typeof probe[method] === 'function');
    probe.close();
    return complete ? candidate : null;
  } catch {
    return null;
  }
}

/** Whether this Node.js has the bindings this adapter speaks to, as it expects them. */
export function libuvHandlesUsable(): boolean {
  // `null` is the answer "not usable", kept like any other.
  if (bindings === undefined) bindings = loadBindings();
  return bindings !== null;
}

interface Watched {
  lastActivity: number;
  idleMs: number;
  events: TcpEvents;
  stop(): void;
}

/**
 * Idle timeouts for every handle from one timer that looks at them all, instead of a timer
 * each: a timeout is reported up to SWEEP_MS after it is due.
 */
const SWEEP_MS = 20;
const watched = new Set<Watched>();
let sweeper: NodeJS.Timeout | null = null;

function sweep(): void {
  const now = performance.now();
  for (const entry of watched) {
    if (now - entry.lastActivity < entry.idleMs) continue;
    entry.stop();
    entry.events.idle();
  }
  if (watched.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = null;
  }
}

function watch(entry: Watched): void {
  watched.add(entry);
  // The handles keep the process alive while they are open; the timer alone must not.
  sweeper ??= setInterval(sweep, SWEEP_MS).unref();
}

/** A connection to `address` (an IP address, not a name) on a libuv handle. */
export function openLibuvHandle(address: string, port: number, idleMs: number, events: TcpEvents): TcpConnection {
  const b = bindings ?? (libuvHandlesUsable() ? bindings! : null);
  if (!b) throw new Error('libuv TCP handles are not available in this Node.js');
  const handle = new b.TCP(b.socketType);
  let closed = false;
  let connected = false;
  /** The request, until the connection is up. */
  let pending: string | null = null;

  const entry: Watched = { lastActivity: performance.now(), idleMs, events, stop: () => watched.delete(entry) };
  const fail = (operation: 'connect' | 'read' | 'write', status: number) => {
    if (closed) return;
    const code = getSystemErrorName(status);
    events.failed({ code, message: `${operation} ${code} ${address}:${port}` });
  };

  // A write that finishes later reports here; libuv holds the request until then (and
  // cancels it, ECANCELED, if the handle closes first: `closed` then ignores it).
  const written = (status: number) => {
    entry.lastActivity = performance.now();
    if (status < 0) fail('write', status);
  };

  function writeNow(text: string): void {
    const request = new b!.WriteWrap();
    request.handle = handle;
    request.async = false;
    request.oncomplete = written;
    const result = handle.writeLatin1String(request, text);
    entry.lastActivity = performance.now();
    if (typeof result === 'number') {
      // Done or failed at once: no completion follows.
      if (result < 0) fail('write', result);
      return;
    }
    // A request of Node.js's own making, which may have finished before it reached us.
    result.oncomplete = written;
    if (result.writeStatus !== null && result.writeStatus !== undefined) written(result.writeStatus);
  }

  handle.onread = (buffer) => {
    if (closed) return;
    entry.lastActivity = performance.now();
    const read = b.state[b.readBytesOrError]!;
    if (read > 0 && buffer) events.data(Buffer.from(buffer, b.state[b.arrayBufferOffset]!, read));
    else if (read === UV_EOF) events.ended();
    else if (read < 0) fail('read', read);
  };

  const connecting = new b.TCPConnectWrap();
  connecting.oncomplete = (status) => {
    if (closed) return;
    if (status < 0) return fail('connect', status);
    connected = true;
    entry.lastActivity = performance.now();
    events.connected();
    if (closed) return;
    const reading = handle.readStart();
    if (reading < 0) return fail('read', reading);
    if (pending !== null) {
      const text = pending;
      pending = null;
      writeNow(text);
    }
  };
  const status = isIP(address) === 6 ? handle.connect6(connecting, address, port) : handle.connect(connecting, address, port);
  // A connect refused at once (no port left, say) is reported as a later one would be.
  if (status < 0) setImmediate(() => fail('connect', status));
  watch(entry);

  return {
    write(latin1) {
      if (closed) return;
      if (connected) writeNow(latin1);
      else pending = latin1;
    },
    close() {
      if (closed) return;
      closed = true;
      entry.stop();
      handle.close();
    },
  };
}
