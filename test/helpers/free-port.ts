import { createServer } from 'node:net';

/** A port that is free on `host` right now (the kernel's pick for port 0). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A port free on both of a two-zone lab's server addresses (127.0.1.1 and 127.0.1.2). */
export async function freeServerPort(): Promise<number> {
  for (;;) {
    const port = await freePort('127.0.1.1');
    const other = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.1.2', () => server.close(() => resolve(true)));
    });
    if (other) return port;
  }
}
