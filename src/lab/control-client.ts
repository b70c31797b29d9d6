import { request } from 'node:http';
import { ZonelabError } from '../errors.js';

/** Sends one request to a server's control socket; resolves with the JSON answer. */
export function callControl(socketPath: string, method: 'GET' | 'PUT' | 'DELETE', body?: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const payload = body ? JSON.stringify(body) : undefined;
    const req = request(
      { socketPath, method, path: '/fault', timeout: 5000, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => {
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            reject(new ZonelabError('E_CONTROL_SOCKET', `${socketPath} answered something that is not JSON`));
            return;
          }
          if (res.statusCode === 200) resolve(parsed);
          else reject(new ZonelabError('E_BAD_FAULT', String(parsed.error ?? `control socket answered ${res.statusCode}`)));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (error) => reject(new ZonelabError('E_CONTROL_SOCKET', `cannot reach the server's control socket ${socketPath}: ${error.message}`, { cause: error })));
    req.end(payload);
  });
}
