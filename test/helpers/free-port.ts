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

function freeOn(port: number, host: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port free on every server address of a lab of `zones` zones (127.0.1.1, 127.0.1.2, …); two by default. */
export async function freeServerPort(zones = 2): Promise<number> {
  for (;;) {
    const port = await freePort('127.0.1.1');
    let free = true;
    for (let zone = 2; zone <= zones && free; zone++) free = await freeOn(port, `127.0.1.${zone}`);
    if (free) return port;
  }
}
