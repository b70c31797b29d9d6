#!/usr/bin/env node
// `npm start [-- flags]`: the local failover experiment. Builds first only when a source
// file is newer than the build, and says so; then runs `zonelab failover` with the flags.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const BUILT = 'dist/src/cli/main.js';

function newest(path) {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  return Math.max(info.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const sources = ['src', 'test', 'bench', 'tsconfig.json', 'package.json'].filter(existsSync);
if (!existsSync(BUILT) || Math.max(...sources.map(newest)) > statSync(BUILT).mtimeMs) {
  process.stderr.write('building zonelab (tsc, about 10 s)…\n');
  const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const run = spawn(process.execPath, [BUILT, 'failover', ...process.argv.slice(2)], { stdio: 'inherit' });
// Ctrl-C reaches the experiment from the terminal (same process group): it puts everything
// back, and this script waits for it. A SIGTERM sent to this script alone is passed on.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => run.kill('SIGTERM'));
run.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : 1)));
