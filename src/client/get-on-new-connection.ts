import { connect, type Socket } from 'node:net';
import { AttemptError, connectErrorCode, createResponseReader, plainHttpTarget, requestHead, type ZoneAnswer } from './http1.js';

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
 * nginx, 64 at a time, a bare net socket writing one prepared request answered 11,000
 * requests/s at one core; `zonelab client` answered 7,400–8,000 this way and 6,500–7,200
 * through undici's Agent with `reset`. In a failover run at 1,000 requests/s the run's
 * process went from 0.52 of a core to 0.32. Half of what is left is the kernel's connect
 * and close.
 * So only the head is parsed (see http1.ts); the body is skipped, not kept. An answer without
 * a length ends when the server closes, which it must after a request that asked it to
 * (RFC 9112 §9.6); a body cut short of its framing is ECONNRESET, as in undici.
 *
 * Timeouts: `timeoutMs` to connect (CONNECT_TIMEOUT), then for the answer to start and for
 * each pause after (TIMEOUT): the socket's own idle timer, which every read pushes back.
 */
export function createNewConnectionGets(origin: string, timeoutMs: number): NewConnectionGets {
  const { host, port, hostHeader, idleMs } = plainHttpTarget(origin, timeoutMs, 'new-connection GETs');
  const open = new Set<Socket>();
  let destroyed = false;

  function get(path: string, headers: Record<string, string>): Promise<ZoneAnswer> {
    const text = requestHead(path, headers, hostHeader, true);
    if (text instanceof AttemptError) return Promise.reject(text);
    if (destroyed) return Promise.reject(new AttemptError('CANCELLED', 'the run was stopped'));

    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      open.add(socket);
      const reader = createResponseReader();
      let connected = false;
      let settled = false;

      const settle = (outcome: 'done' | AttemptError) => {
        if (settled) return;
        settled = true;
        open.delete(socket);
        socket.destroy();
        if (outcome === 'done') resolve(reader.answer!);
        else reject(outcome);
      };

      socket.once('connect', () => {
        connected = true;
      });
      socket.on('data', (chunk: Buffer) => {
        const read = reader.feed(chunk);
        if (read !== 'more') settle(read);
      });
      // The server closed: the answer is whole when its framing says so.
      socket.on('end', () => settle(reader.closed()));
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
