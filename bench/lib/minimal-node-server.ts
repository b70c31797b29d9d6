/**
 * The smallest honest node:http file server: every page preloaded into memory, looked up
 * by path, sent with Content-Type and Content-Length, nothing else. It measures what
 * node:http itself costs on this machine, the ceiling for any server built on it.
 * Usage: node minimal-node-server.js <root> <port>
 */
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';

const [root, port] = process.argv.slice(2) as [string, string];
const pages = new Map<string, Buffer>();
async function load(dir: string, prefix: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await load(join(dir, entry.name), `${prefix}${entry.name}/`);
    else pages.set(`${prefix}${entry.name}`, await readFile(join(dir, entry.name)));
  }
}
await load(root, '/');
createServer((req, res) => {
  const body = pages.get(req.url ?? '');
  if (body === undefined) {
    res.writeHead(404, { 'Content-Length': 0 }).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length });
  res.end(body);
}).listen(Number(port), '127.0.0.1');
