/**
 * The smallest honest node:http file server: every page preloaded into memory, looked up
 * by path, sent with Content-Type and Content-Length, nothing else. It measures what
 * node:http itself costs on this machine, the ceiling for any server built on it.
 * With `--zonelab-headers` every page also carries the headers `zonelab serve` sends with
 * it (ETag, Last-Modified, X-Zone, X-Instance), in the same order and form, so the bench
 * can tell what those bytes cost apart from what zonelab's code costs.
 * Usage: node minimal-node-server.js <root> <port> [--zonelab-headers]
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';

const [root, port, option] = process.argv.slice(2) as [string, string, string | undefined];
const zonelabHeaders = option === '--zonelab-headers';
const pages = new Map<string, { body: Buffer; headers: string[] }>();
async function load(dir: string, prefix: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await load(path, `${prefix}${entry.name}/`);
      continue;
    }
    const body = await readFile(path);
    const type = ['Content-Type', 'text/html; charset=utf-8'];
    const length = ['Content-Length', String(body.length)];
    if (!zonelabHeaders) {
      pages.set(`${prefix}${entry.name}`, { body, headers: [...type, ...length] });
      continue;
    }
    const info = await stat(path);
    const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const headers = ['ETag', etag, 'Last-Modified', info.mtime.toUTCString(), ...type, 'X-Zone', 'bench', 'X-Instance', 'bench', ...length];
    pages.set(`${prefix}${entry.name}`, { body, headers });
  }
}
await load(root, '/');
createServer((req, res) => {
  const page = pages.get(req.url ?? '');
  if (page === undefined) {
    res.writeHead(404, { 'Content-Length': 0 }).end();
    return;
  }
  res.writeHead(200, page.headers);
  res.end(page.body);
}).listen(Number(port), '127.0.0.1');
