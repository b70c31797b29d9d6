import { isIP } from 'node:net';
import { libuvHandlesUsable, openLibuvHandle } from './libuv-handle.js';
import { openNetSocket } from './net-socket.js';

/**
 * One TCP connection for one GET, as the new-connection transport needs it and no more: a
 * write of the request, the bytes that come back, the end, an idle timeout. Two adapters:
 * Node.js's `net.Socket`, and the libuv TCP handle under it without the stream around it.
 */
export interface TcpEvents {
  connected(): void;
  data(chunk: Buffer): void;
  /** The peer closed its side. */
  ended(): void;
  /** Nothing was read or written for the idle time given to `open`. */
  idle(): void;
  /** A socket error; `errors` when several addresses of a name were tried, each failing. */
  failed(error: { code?: string; errors?: { code?: string }[]; message: string }): void;
}

export interface TcpConnection {
  write(latin1: string): void;
  /** Closes the connection; no event is reported after. */
  close(): void;
}

export type TcpAdapter = 'net' | 'handle';

export type OpenTcp = (host: string, port: number, idleMs: number, events: TcpEvents) => TcpConnection;

/**
 * The adapter for `host`: libuv handles for an address (each connect costs a fifth of the
 * CPU of a `net.Socket`, see libuv-handle.ts) where this Node.js has them; `net.Socket`
 * for a name (resolved and tried address by address, as Node.js does), or where
 * `ZONELAB_TCP=net` asks for it.
 */
export function tcpAdapterFor(host: string, wanted: TcpAdapter | undefined = adapterFromEnvironment()): OpenTcp {
  if (wanted === 'net' || isIP(host) === 0 || !libuvHandlesUsable()) return openNetSocket;
  return openLibuvHandle;
}

function adapterFromEnvironment(): TcpAdapter | undefined {
  const value = process.env.ZONELAB_TCP;
  return value === 'net' || value === 'handle' ? value : undefined;
}
