import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';

export interface ScriptedServer {
  port: number;
  /** Connections accepted so far. */
  connections: () => number;
  /** Connections still open at the server's end. */
  open: () => number;
  /** The request heads read so far, in order, whatever connection they came on. */
  requests: string[];
  close: () => Promise<void>;
}

/**
 * A TCP server on loopback that answers each request with `script`, called once the
 * request's head is in (with the socket and how many requests that connection has carried
 * before): HTTP as a test wants it to go wrong, which a real HTTP server will not do.
 */
export async function scriptedServer(script: (socket: Socket, previous: number) => void): Promise<ScriptedServer> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    let previous = 0;
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        requests.push(buffered.slice(0, end));
        buffered = buffered.slice(end + 4);
        script(socket, previous++);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    open: () => sockets.size,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
