#!/usr/bin/env node
// Runs the compiled test files with node's own test runner, then checks that nothing the
// tests started is still running.
// Node 20 treats every file under a `test/` folder as a test when given a folder, which
// would run helpers as tests; so the files ending in `.test.js` are listed explicitly.
// Usage: node scripts/run-tests.mjs [--reliability | --vm] [substring ...]  (only files whose path contains one)
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
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

// Every process the tests start inherits this mark in its environment, so whatever is
// still running with it after the run is something a test left behind.
const mark = `ZONELAB_TEST_RUN=${randomUUID()}`;
const [markName, markValue] = mark.split('=');

/** Processes (pid and command line) whose environment carries this run's mark. */
function leftBehind() {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(mark)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (stat.split(') ')[1]?.[0] === 'Z') continue;
      found.push({ pid: Number(entry), command: readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').join(' ').trim() });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

const started = performance.now();
// A test (or suite) that hangs fails after 10 minutes instead of holding CI until its own
// limit, and the whole run is stopped after 30 (the longest suite takes about 7).
// --test-force-exit: a handle a test forgot cannot keep the runner alive once every test
// has ended. The runner leads a process group of its own, so the watchdog stops it and
// every process it started together.
const child = spawn(
  process.execPath,
  [
    '--test',
    '--test-timeout=600000',
    '--test-force-exit',
    '--test-reporter=spec',
    ...files,
  ],
  {
    // Standard output passes through here, so the runner's own totals can be read for the
    // summary line (a pipe is written synchronously, so nothing is lost at a forced exit).
    stdio: ['inherit', 'pipe', 'inherit'],
    detached: true,
    env: { ...process.env, [markName]: markValue, ...(process.stdout.isTTY && !process.env.NO_COLOR ? { FORCE_COLOR: '1' } : {}) },
  },
);
let tail = '';
// Decoded as one stream, so a character split between two chunks stays whole.
child.stdout.setEncoding('utf8');
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  // The totals come before the failures' details, which can be long.
  tail = (tail + chunk).slice(-4 * 1024 * 1024);
});
const stdoutEnded = new Promise((resolve) => child.stdout.on('end', resolve));
const killGroup = (signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
};
const watchdog = setTimeout(() => {
  console.error('run-tests: still running after 30 minutes; stopping it');
  killGroup('SIGKILL');
}, 30 * 60_000);
// Ctrl-C reaches the runner's group through the terminal only when it shares ours: pass it on.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => killGroup(signal));

child.on('exit', async (code, signal) => {
  clearTimeout(watchdog);
  await stdoutEnded;
  let failed = code !== 0 || signal !== null;
  // What a test left running, whether in the runner's process group or out of it (a
  // detached lab): looked for before the group is killed, so nothing dies unreported. A
  // process that is exiting gets a moment to finish.
  let leaks = leftBehind();
  for (let waited = 0; leaks.length > 0 && waited < 2000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    leaks = leftBehind();
  }
  killGroup('SIGKILL');
  if (leaks.length > 0) {
    failed = true;
    console.error(`run-tests: ${leaks.length} process(es) the tests started still run; stopping them:`);
    for (const leak of leaks) {
      console.error(`  pid ${leak.pid}: ${leak.command}`);
      try {
        process.kill(leak.pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
  }
  // The spec reporter's totals: "ℹ tests 410", "ℹ pass 409", … (colour codes aside).
  const counts = {};
  // biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes are control characters
  const plain = tail.replace(/\u001b\[[0-9;]*m/g, '');
  // The last totals (at column 0) are the run's.
  for (const match of plain.matchAll(/^ℹ (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) counts[match[1]] = Number(match[2]);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const summary =
    counts.tests === undefined
      ? `no results (the runner ended with ${signal ?? `code ${code}`})`
      : `${counts.tests} tests, ${counts.pass} passed, ${counts.fail} failed, ${counts.cancelled ?? 0} cancelled, ${counts.skipped ?? 0} skipped`;
  console.log(`run-tests: ${summary}, ${leaks.length} left running, in ${seconds} s on Node.js ${process.version}`);
  process.exit(failed ? 1 : 0);
});
