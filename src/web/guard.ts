import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** The live page's control token: 32 random bytes, URL-safe. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Whether a Host header may reach the page. Only an IP literal or `localhost`, with the
 * page's own port: a DNS-rebinding page reaches us under its own host name, which this
 * refuses, so no other site can read the page's data or act on the lab. Pure.
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:]+):(\d+)$/.exec(host);
  if (!match || Number(match[2]) !== port) return false;
  const name = match[1]!.replace(/^\[|\]$/g, '');
  return name.toLowerCase() === 'localhost' || isIP(name) !== 0;
}

/**
 * Whether a state-changing request comes from the page itself: its Origin is the page's own
 * (what the browser sends for a same-origin fetch with a body), and it carries the token.
 * A cross-site form or fetch has another Origin, and cannot set the token header without a
 * preflight this server never answers. Pure.
 */
export function controlAllowed(request: { host: string | undefined; origin: string | undefined; token: string | undefined }, token: string): boolean {
  if (!request.origin || !request.host || request.origin !== `http://${request.host}`) return false;
  if (!request.token) return false;
  const given = Buffer.from(request.token);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `127.0.0.1:0`, `:8090`, `0.0.0.0:8090`, `[::1]:8090` or a bare port → host and port. */
export function parseWebAddress(value: string): { host: string; port: number } {
  const text = value.trim();
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(text);
  const host = (match?.[1] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(match?.[2]);
  if (!match || port > 65535 || (host !== 'localhost' && isIP(host) === 0)) {
    throw new Error(`"${value}" is not an address such as 127.0.0.1:8090 (an IP address and a port; 0 picks a free one)`);
  }
  return { host: host === 'localhost' ? '127.0.0.1' : host, port };
}

/** Whether an address is this machine's loopback (the only default). */
export function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}
