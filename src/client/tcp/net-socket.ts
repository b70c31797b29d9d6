import { connect } from 'node:net';
import type { TcpConnection, TcpEvents } from './index.js';

/** A TCP connection through Node.js's `net.Socket`: any host, names included. */
export function openNetSocket(host: string, port: number, idleMs: number, events: TcpEvents): TcpConnection {
  const socket = connect({ host, port });
  let closed = false;
  socket.once('connect', () => {
    if (!closed) events.connected();
  });
  socket.on('data', (chunk: Buffer) => {
    if (!closed) events.data(chunk);
  });
  socket.on('end', () => {
    if (!closed) events.ended();
  });
  // The socket's own idle timer, which every read and write pushes back.
  socket.setTimeout(idleMs);
  socket.on('timeout', () => {
    if (!closed) events.idle();
  });
  socket.on('error', (error: NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] }) => {
    if (!closed) events.failed(error);
  });
  socket.on('close', () => {
    if (!closed) events.failed({ code: 'ECONNRESET', message: 'the connection closed' });
  });
  return {
    write(latin1) {
      socket.write(latin1, 'latin1');
    },
    close() {
      closed = true;
      socket.destroy();
    },
  };
}
