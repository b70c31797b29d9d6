import { AttemptError, connectErrorCode, createResponseReader, plainHttpTarget, requestHead, type ZoneAnswer } from './http1.js';
import { type TcpAdapter, tcpAdapterFor } from './tcp/index.js';

export interface NewConnectionGets {
  /** One GET on a connection of its own, closed once the answer is in. */
  get(path: string, headers: Record<string, string>): Promise<ZoneAnswer>;
  /** Ends every connection still open; their attempts fail with `CANCELLED`. */
  destroy(): void;
}

/**
 * GETs over plain HTTP/1.1, each on a new TCP connection asking `Connection: close`: the
 * experiment's default, as the course client and a network load balancer see it. An HTTP
 * library costs more per connection than the connection itself: measured on loopback against
 * nginx, 64 at a time, `zonelab client` answered 6,500–7,200 requests/s through undici's
 * Agent with `reset`, 12,000–13,000 on `net.Socket`s with this reader, and 20,000 on libuv
 * handles (see tcp/libuv-handle.ts), about as many as wrk.
 * So only the head is parsed (see http1.ts); the body is skipped, not kept. An answer without
 * a length ends when the server closes, which it must after a request that asked it to
 * (RFC 9112 §9.6); a body cut short of its framing is ECONNRESET, as in undici.
 *
 * Timeouts: `timeoutMs` to connect (CONNECT_TIMEOUT), then for the answer to start and for
 * each pause after (TIMEOUT): the connection's idle timeout, which every read pushes back.
 * `adapter` chooses the TCP adapter (see tcp/index.ts); by default the fastest that can.
 */
export function createNewConnectionGets(origin: string, timeoutMs: number, adapter?: TcpAdapter): NewConnectionGets {
  const { host, port, hostHeader, idleMs } = plainHttpTarget(origin, timeoutMs, 'new-connection GETs');
  const openTcp = tcpAdapterFor(host, adapter);
  const open = new Set<() => void>();
  let destroyed = false;

  function get(path: string, headers: Record<string, string>): Promise<ZoneAnswer> {
    const text = requestHead(path, headers, hostHeader, true);
    if (text instanceof AttemptError) return Promise.reject(text);
    if (destroyed) return Promise.reject(new AttemptError('CANCELLED', 'the run was stopped'));

    return new Promise((resolve, reject) => {
      const reader = createResponseReader();
      let connected = false;
      let settled = false;
      const settle = (outcome: 'done' | AttemptError) => {
        if (settled) return;
        settled = true;
        open.delete(cancel);
        connection.close();
        if (outcome === 'done') resolve(reader.answer!);
        else reject(outcome);
      };
      const cancel = () => settle(new AttemptError('CANCELLED', 'the run was stopped'));
      const connection = openTcp(host, port, idleMs, {
        connected() {
          connected = true;
        },
        data(chunk) {
          const read = reader.feed(chunk);
          if (read !== 'more') settle(read);
        },
        // The server closed: the answer is whole when its framing says so.
        ended: () => settle(reader.closed()),
        idle: () => settle(new AttemptError(connected ? 'TIMEOUT' : 'CONNECT_TIMEOUT', `no ${connected ? 'answer' : 'connection'} in ${timeoutMs} ms`)),
        failed: (error) => settle(new AttemptError(connectErrorCode(error, connected), error.message)),
      });
      open.add(cancel);
      connection.write(text);
    });
  }

  return {
    get,
    destroy() {
      destroyed = true;
      for (const cancel of [...open]) cancel();
    },
  };
}
