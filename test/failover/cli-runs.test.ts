import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findChromium } from '../../src/failover/index.js';
import { nftTableOf } from '../../src/lab/index.js';
import { runCli } from '../helpers/cli.js';
import { freePort, freeServerPort } from '../helpers/free-port.js';
import { alive, endLabsUnder, skipWithoutHaproxy } from '../helpers/lab-process.js';
import { CLI_PATH } from '../helpers/paths.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

const hasNft = spawnSync('nft', ['--version']).status === 0;
const skipNetwork = skipWithoutHaproxy || (hasNft && process.getuid?.() === 0 ? false : 'network faults need root and nftables');

function tableExists(labDir: string): boolean {
  return spawnSync('nft', ['list', 'table', 'inet', nftTableOf(labDir)], { stdio: 'ignore' }).status === 0;
}

/** The one report folder a run wrote under `out`. */
async function onlyFolder(out: string): Promise<string> {
  const folders = await readdir(out);
  assert.equal(folders.length, 1, `one report folder in ${out}: ${folders.join(', ')}`);
  return join(out, folders[0]!);
}

describe('zonelab failover runs through the CLI: matrix, report, reset, flap, Ctrl-C (real HAProxy, real processes)', { skip: skipWithoutHaproxy }, () => {
  let parent: string;
  let bucket: TempBucket;
  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-cli-runs-'));
    bucket = await makeTempBucket(100);
  });
  after(async () => {
    try {
      await endLabsUnder(parent);
    } finally {
      await bucket.remove();
      await rm(parent, { recursive: true, force: true });
    }
  });

  const base = async () => [
    '--bucket', bucket.root, '--index', '100', '--warmup', '1s', '--hold', '1s', '--max-wait', '10s',
    '--listen', `127.0.0.1:${await freePort()}`, '--port', String(await freeServerPort()),
  ];

  it('--matrix of fast × kill,stop: a cell per pair with its report, one comparison, and zonelab report renders a cell again', async () => {
    const out = join(parent, 'matrix');
    const result = await runCli(['failover', '--matrix', '--profiles', 'fast', '--faults', 'kill,stop', '--out-dir', out, ...(await base())], {}, 180_000);
    assert.equal(result.code, 0, result.stderr);
    const matrix = await onlyFolder(out);
    const comparison = await readFile(join(matrix, 'matrix.md'), 'utf8');
    // One row per cell, each with a time to reroute (a kill fails the checks at once, a stop makes them time out).
    assert.match(comparison, /\| haproxy \| fast \| tcp \| kill \| \d+\.\d\d \|/);
    assert.match(comparison, /\| haproxy \| fast \| tcp \| stop \| \d+\.\d\d \|/);
    const cells = (await readdir(matrix, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
    assert.deepEqual(cells, ['fast-kill', 'fast-stop']);
    for (const cell of cells) {
      const summary = JSON.parse(await readFile(join(matrix, cell, 'summary.json'), 'utf8'));
      assert.equal(summary.metrics.rerouted, true, `${cell} rerouted`);
      assert.equal(summary.metrics.returned, true, `${cell} returned`);
      // Nothing of a cell's lab is left running.
      assert.equal(existsSync(join(matrix, cell, 'lab', 'state.json')), false, `${cell}: its lab is down`);
    }

    // report <dir>: computed again from the saved records, the same report.
    const cell = join(matrix, 'fast-stop');
    const before = await readFile(join(cell, 'report.md'), 'utf8');
    await rm(join(cell, 'report.md'));
    const again = await runCli(['report', cell]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await readFile(join(cell, 'report.md'), 'utf8'), before);
    assert.match(await readFile(join(cell, 'report.html'), 'utf8'), /<h2[^>]*>Answers<\/h2>/);
    const missing = await runCli(['report', join(parent, 'no-such-run')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^zonelab: .* not a failover report folder/);
    // The matrix folder itself: every cell again, and its page (a PDF of it with Chromium).
    assert.match(await readFile(join(matrix, 'matrix.html'), 'utf8'), /<a href="fast-kill\/report\.html">/);
    const whole = await runCli(['report', matrix, ...(findChromium() ? ['--pdf', '--paper', 'Letter'] : [])], {}, 60_000);
    assert.equal(whole.code, 0, whole.stderr);
    assert.match(whole.stdout, /^report: .*fast-kill\/report\.md/m);
    assert.match(whole.stdout, /^matrix: .*matrix\.html$/m);
    if (findChromium()) assert.equal((await readFile(join(matrix, 'matrix.pdf'))).subarray(0, 5).toString(), '%PDF-');
  });

  it('reset under fast: connections are refused, the zone is marked down within the bound, and no rule is left', { skip: skipNetwork }, async () => {
    const out = join(parent, 'reset');
    const result = await runCli(['failover', '--fault', 'reset', '--profile', 'fast', '--out-dir', out, ...(await base())], {}, 120_000);
    assert.equal(result.code, 0, result.stderr);
    const run = await onlyFolder(out);
    const summary = JSON.parse(await readFile(join(run, 'summary.json'), 'utf8'));
    assert.equal(summary.metrics.rerouted, true);
    assert.ok(summary.metrics.lb.downAfterFaultMs !== null, 'HAProxy marked the zone down');
    assert.ok(Object.keys(summary.metrics.errors.byKind).every((kind) => ['ECONNRESET', 'ECONNREFUSED'].includes(kind)), JSON.stringify(summary.metrics.errors.byKind));
    assert.equal(tableExists(join(run, 'lab')), false, 'the lab’s nftables table is gone');
  });

  it('flap:2s under fast: the zone goes out and back with its check, and the run ends with a report saying so', async () => {
    const out = join(parent, 'flap');
    const result = await runCli(['failover', '--fault', 'flap:2s', '--profile', 'fast', '--out-dir', out, ...(await base())], {}, 120_000);
    assert.equal(result.code, 0, result.stderr);
    const run = await onlyFolder(out);
    const events = (await readFile(join(run, 'events.ndjson'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { kind: string; detail: string; target: string });
    const lbStates = events.filter((event) => event.kind === 'lb-state' && event.target.startsWith('us-east1-b')).map((event) => event.detail);
    assert.ok(lbStates.filter((state) => state === 'DOWN').length >= 1, `HAProxy took the flapping zone out: ${lbStates.join(' → ')}`);
    assert.ok(lbStates.lastIndexOf('UP') > lbStates.indexOf('DOWN'), `and let it back in: ${lbStates.join(' → ')}`);
    assert.match(await readFile(join(run, 'report.md'), 'utf8'), /flap:2s/);
  });

  it('Ctrl-C after the fault: exit 130, the report marked interrupted, the lab gone, no table left', async () => {
    const out = join(parent, 'interrupted');
    const args = ['failover', '--fault', 'kill', '--profile', 'fast', '--out-dir', out, ...(await base())];
    // A long hold: the run is still in its outage when the signal comes.
    args.splice(args.indexOf('--hold') + 1, 1, '60s');
    const child: ChildProcess = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitFor(() => /^fault: kill us-east1-b at /m.test(output), 30_000, `the fault (${output})`);
      const run = await onlyFolder(out);
      const state = JSON.parse(await readFile(join(run, 'lab', 'state.json'), 'utf8'));
      const pids: number[] = [...state.lb.processes.map((p: { pid: number | null }) => p.pid), state.audit.pid, ...state.servers.map((server: { pid: number | null }) => server.pid)].filter((pid) => pid !== null);
      child.kill('SIGINT');
      assert.equal(await exited, 130, output);
      const report = await readFile(join(run, 'report.md'), 'utf8');
      assert.match(report, /The run was interrupted/);
      // What it saw, and that the rest was not measured: never a wait that did not elapse.
      assert.match(report, /(traffic had not been rerouted when the run was interrupted, \d+\.\d\d s after it|had not marked us-east1-b down when the run was interrupted, \d+\.\d\d s after the kill; nor had traffic been rerouted)/);
      assert.match(report, /The run was interrupted before the restart: the reroute and the return were not measured\./);
      assert.doesNotMatch(report, /not rerouted within|never marked|did not serve again/);
      assert.match(output, /^time to reroute: not measured: the run was interrupted first$/m);
      assert.doesNotMatch(output, /DOWN — |UP — |: not rerouted|not returned/);
      assert.deepEqual(pids.filter(alive), [], 'the lab’s processes are gone');
      assert.equal(existsSync(join(run, 'lab', 'state.json')), false);
      assert.equal(tableExists(join(run, 'lab')), false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
