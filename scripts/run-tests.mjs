#!/usr/bin/env node
// Runs the compiled test files with node's own test runner.
// Node 20 treats every file under a `test/` folder as a test when given a folder, which
// would run helpers as tests; so the files ending in `.test.js` are listed explicitly.
// Usage: node scripts/run-tests.mjs [--reliability | --vm] [substring ...]  (only files whose path contains one)
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTests(path));
    else if (entry.name.endsWith('.test.js')) found.push(path);
  }
  return found;
}

// Two suites run on their own: the reliability suite (corpus, fuzz, soak, supervisor faults),
// selected by `--reliability`, and the cloud rehearsal (VMs in Debian boxes), by `--vm`.
const suites = ['reliability', 'vm'];
const suite = suites.find((name) => process.argv.includes(`--${name}`)) ?? null;
const filters = process.argv.slice(2).filter((arg) => !suites.some((name) => arg === `--${name}`));
const suiteOf = (file) => suites.find((name) => file.includes(`${join('test', name)}/`)) ?? null;
const files = findTests('dist/test')
  .filter((file) => suiteOf(file) === suite)
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`run-tests: no test file matches ${filters.join(', ') || '(all)'}`);
  process.exit(1);
}
// A test (or suite) that hangs fails after 10 minutes instead of holding CI until its own limit, and
// the whole run is stopped after 20 (it takes about 3).
const child = spawn(process.execPath, ['--test', '--test-timeout=600000', ...files], { stdio: 'inherit' });
const watchdog = setTimeout(() => {
  console.error('run-tests: still running after 20 minutes; stopping it');
  child.kill('SIGKILL');
}, 20 * 60_000);
child.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  process.exit(code ?? (signal ? 1 : 0));
});
