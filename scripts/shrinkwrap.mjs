#!/usr/bin/env node
// npm pack's prepack step: writes npm-shrinkwrap.json, the lock file of the exact dependency
// tree zonelab is built and tested with, so `npm install` of the packed file (on a cloud VM)
// installs that tree instead of resolving version ranges afresh. npm leaves package-lock.json
// out of a package but always packs npm-shrinkwrap.json. `postpack` removes the file again,
// so the checkout's own installs keep using package-lock.json.
// Usage: node scripts/shrinkwrap.mjs [--remove]
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const target = new URL('../npm-shrinkwrap.json', import.meta.url);
if (process.argv.includes('--remove')) {
  rmSync(target, { force: true });
  process.exit(0);
}
// The package is dist/src as built: refuse to pack a build older than its sources.
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce((latest, entry) => Math.max(latest, statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs), 0);
const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(join(root, 'dist/src/cli/main.js'))) {
  console.error('zonelab: nothing built to pack: run "npm run build" first');
  process.exit(1);
}
if (newest(join(root, 'src')) > newest(join(root, 'dist/src'))) {
  console.error('zonelab: dist/src is older than src: run "npm run build" first, so the package holds what the sources say');
  process.exit(1);
}
const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'));
if (lock.lockfileVersion < 2) throw new Error(`package-lock.json has lockfileVersion ${lock.lockfileVersion}; npm 7 or later writes 3`);
// The lock as it is, development entries included (marked dev): npm ci checks that the lock
// matches package.json, devDependencies too, and --omit=dev leaves those entries out.
writeFileSync(target, `${JSON.stringify(lock, null, 2)}\n`);
