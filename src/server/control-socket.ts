import { chmod, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describeError, ZonelabError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseFault } from '../records/index.js';
import { type GrayFaults, isGrayFault } from './gray-faults.js';

export interface ControlSocket {
  readonly path: string;
  close(): Promise<void>;
}

// A unix socket path longer than this is cut by the kernel (sun_path is 108 bytes).
const MAX_SOCKET_PATH = 107;

function answer(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

async function readBody(req: IncomingMessage, limit = 1024): Promise<string> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > limit) throw new ZonelabError('E_BAD_ARGUMENT', 'body too large');
  }
  return text;
}

/**
 * The owner-only control channel of a server: HTTP on a unix socket of mode 0600, never on
 * the public port, so only the lab's owner (and root) can inject a fault.
 * `GET /fault` shows the current one, `PUT /fault` with `{"fault":"latency:500"}` sets a
 * gray fault, `DELETE /fault` heals.
 */
export async function startControlSocket(path: string, faults: GrayFaults, logger: Logger): Promise<ControlSocket> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new ZonelabError('E_CONTROL_SOCKET', `the control socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes (a unix socket limit): use a shorter folder`);
  }
  const server = createServer((req, res) => {
    const route = `${req.method} ${req.url}`;
    (async () => {
      if (route === 'GET /fault') return answer(res, 200, { fault: faults.describe() });
      if (route === 'DELETE /fault') {
        const was = faults.describe();
        faults.clear();
        if (was) logger.warn({ fault: was }, `fault healed: ${was}`);
        return answer(res, 200, { fault: null, healed: was });
      }
      if (route === 'PUT /fault') {
        let text: unknown;
        try {
          text = (JSON.parse(await readBody(req)) as { fault?: unknown }).fault;
        } catch {
          return answer(res, 400, { error: 'the body must be JSON such as {"fault":"latency:500"}' });
        }
        if (typeof text !== 'string') return answer(res, 400, { error: 'the body must be JSON such as {"fault":"latency:500"}' });
        let fault: ReturnType<typeof parseFault>;
        try {
          fault = parseFault(text);
        } catch (error) {
          return answer(res, 400, { error: (error as Error).message });
        }
        if (!isGrayFault(fault)) return answer(res, 400, { error: `${text} is not a fault a server injects itself (latency, errors, health-fail, flap)` });
        faults.set(fault, performance.now());
        logger.warn({ fault: faults.describe() }, `fault injected: ${faults.describe()}`);
        return answer(res, 200, { fault: faults.describe() });
      }
      return answer(res, 404, { error: `no route ${route}; use GET, PUT or DELETE /fault` });
    })().catch((error: unknown) => answer(res, 500, { error: describeError(error) }));
  });
  // A socket file left by a killed server would make listen fail with EADDRINUSE.
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new ZonelabError('E_CONTROL_SOCKET', `cannot listen on the control socket ${path}: ${describeError(error)}`, { cause: error })));
    server.listen({ path, readableAll: false, writableAll: false }, () => resolve());
  });
  await chmod(path, 0o600);
  return {
    path,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await rm(path, { force: true });
    },
  };
}
