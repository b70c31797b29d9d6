import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nftTableOf, openLab, serversWithNetworkFault } from '../../src/lab/index.js';
import { detectionBound, resolveSpec } from '../../src/lb/index.js';
import { freePort } from '../helpers/free-port.js';
import { skipWithoutHaproxy, zonelab, endLabsUnder } from '../helpers/lab-process.js';
import { CLI_PATH } from '../helpers/paths.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

const hasNft = spawnSync('nft', ['--version']).status === 0;
const skip = skipWithoutHaproxy || (hasNft ? false : 'nftables is not installed (apt-get install -y nftables)') || (process.getuid?.() === 0 ? false : 'network faults need root');
const FAST = resolveSpec('fast');

function tableExists(table: string): boolean {
  return spawnSync('nft', ['list', 'table', 'inet', table]).status === 0;
}

/** How a new connection to host:port ends: `connected`, an error code, or `TIMEOUT` after `ms`. */
function tryConnect(host: string, port: number, ms = 1500): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('TIMEOUT');
    }, ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
  });
}

describe('lab faults: nftables rules and gray faults (real HAProxy, real nft, real processes)', { skip }, () => {
  let parent: string;
  let bucket: TempBucket;
  const dirs: string[] = [];
  const supervisors: ChildProcess[] = [];

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-faults-'));
    bucket = await makeTempBucket(20);
  });
  after(async () => {
    try {
      // Throws, after removing them, if tables outlived lab down.
      await endLabsUnder(parent, dirs);
    } finally {
      for (const supervisor of supervisors) if (supervisor.exitCode === null && supervisor.signalCode === null) supervisor.kill('SIGKILL');
      await bucket.remove();
      await rm(parent, { recursive: true, force: true });
    }
  });

  async function up(name: string): Promise<string> {
    const dir = join(parent, name);
    dirs.push(dir);
    const result = await zonelab(
      'lab', 'up', '--detach', '--dir', dir, '--listen', `127.0.0.1:${await freePort()}`, '--port', String(await freePort('127.0.1.1')), '--bucket', bucket.root, '--profile', 'fast',
    );
    assert.equal(result.code, 0, result.stderr);
    return dir;
  }

  /** ms from now until HAProxy reports `server` in `status` (polled every 20 ms). */
  async function msUntil(dir: string, server: string, status: RegExp, timeoutMs = 15_000): Promise<number> {
    const lab = await openLab(dir);
    const started = performance.now();
    const balancer = lab.balancer()!;
    await waitFor(async () => status.test((await balancer.view())?.find((s) => s.server === server)?.status ?? ''), timeoutMs, `${server} ${status}`);
    return performance.now() - started;
  }

  it('partition: HAProxy marks the zone DOWN within the bound for checks that time out; heal removes exactly its rules', async (t) => {
    const dir = await up('partition');
    const lab = await openLab(dir);
    const server = lab.state.servers.find((s) => s.zone === 'us-east1-b')!;
    const fault = await zonelab('lab', 'fault', 'us-east1-b', 'PARTITION', '--dir', dir);
    assert.equal(fault.code, 0, fault.stderr);
    const downMs = await msUntil(dir, server.name, /^DOWN/);
    const bound = detectionBound(FAST, 'haproxy', 'times-out')!;
    t.diagnostic(`DOWN ${Math.round(downMs)} ms after the partition (bound ${bound.sec} s)`);
    assert.ok(downMs <= bound.sec * 1000, `DOWN after ${Math.round(downMs)} ms, bound ${bound.sec} s`);
    assert.equal(await tryConnect(server.host, server.port, 800), 'TIMEOUT', 'a connect to a partitioned server hangs');
    assert.deepEqual(serversWithNetworkFault(lab.state.nftTable), [server.name]);
    // The watcher's words, the check's result included: never HAProxy's codes.
    assert.match((await zonelab('lab', 'status', '--dir', dir)).stdout, /us-east1-b-vm1 .* partition +down; last check (timed out|refused)/);
    const heal = await zonelab('lab', 'heal', 'us-east1-b', '--dir', dir);
    assert.equal(heal.code, 0, heal.stderr);
    assert.match(heal.stdout, /us-east1-b-vm1 \(was partition\) healed, answering \/healthz again/);
    assert.deepEqual(serversWithNetworkFault(lab.state.nftTable), []);
    await msUntil(dir, server.name, /^UP$/);
    // A healthy zone has nothing to heal, and says so instead of "healed".
    const again = await zonelab('lab', 'heal', 'us-east1-b', '--dir', dir);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'us-east1-b-vm1 carries no fault and is running: nothing to heal\n');
  });

  it('reset: connections are refused with a reset and HAProxy marks the zone DOWN within the bound for checks that fail at once', async (t) => {
    const dir = await up('reset');
    const server = (await openLab(dir)).state.servers.find((s) => s.zone === 'us-east1-c')!;
    assert.equal((await zonelab('lab', 'fault', server.name, 'reset', '--dir', dir)).code, 0);
    assert.match(await tryConnect(server.host, server.port), /^(ECONNRESET|ECONNREFUSED)$/);
    const downMs = await msUntil(dir, server.name, /^DOWN/);
    const bound = detectionBound(FAST, 'haproxy', 'fails-fast')!;
    t.diagnostic(`DOWN ${Math.round(downMs)} ms after the reset rule (bound ${bound.sec} s)`);
    assert.ok(downMs <= bound.sec * 1000);
    assert.equal((await zonelab('lab', 'heal', server.name, '--dir', dir)).code, 0);
    assert.equal(await tryConnect(server.host, server.port), 'connected');
  });

  it('gray faults through the control socket; a second fault on a faulted zone is refused until healed', async () => {
    const dir = await up('gray');
    assert.equal((await zonelab('lab', 'fault', 'us-east1-b', 'health-fail', '--dir', dir)).code, 0);
    await msUntil(dir, 'us-east1-b-vm1', /^DOWN/);
    const again = await zonelab('lab', 'fault', 'us-east1-b', 'latency:100', '--dir', dir);
    assert.equal(again.code, 1);
    assert.equal(again.stderr.trim(), 'zonelab: us-east1-b-vm1 already has health-fail: heal it first ("zonelab lab heal us-east1-b")');
    const bad = await zonelab('lab', 'fault', 'us-east1-b', 'latency:fast', '--dir', dir);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^zonelab: fault "latency:fast" needs a duration/);
    assert.equal((await zonelab('lab', 'heal', 'us-east1-b', '--dir', dir)).code, 0);
    await msUntil(dir, 'us-east1-b-vm1', /^UP$/);
  });

  it('lab down removes the rules of a lab whose foreground supervisor was killed with SIGKILL', async () => {
    const dir = join(parent, 'orphan');
    dirs.push(dir);
    const supervisor = spawn(
      process.execPath,
      [CLI_PATH, 'lab', 'up', '--dir', dir, '--listen', `127.0.0.1:${await freePort()}`, '--port', String(await freePort('127.0.1.1')), '--bucket', bucket.root, '--profile', 'fast'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    supervisors.push(supervisor);
    const exited = new Promise((resolve) => supervisor.on('exit', resolve));
    let stdout = '';
    supervisor.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    await waitFor(() => stdout.includes('watching backend states'), 30_000, 'the foreground lab to be up');
    assert.equal((await zonelab('lab', 'fault', 'us-east1-b', 'partition', '--dir', dir)).code, 0);
    const table = nftTableOf(dir);
    assert.ok(tableExists(table));
    supervisor.kill('SIGKILL');
    await exited;
    assert.ok(tableExists(table), 'the rules outlive the supervisor until lab down');
    const down = await zonelab('lab', 'down', '--dir', dir);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(tableExists(table), false);
  });

  it('a network fault without root is one clear line, and nothing starts', async () => {
    const out = join(parent, 'nobody-reports');
    const result = spawnSync(process.execPath, [CLI_PATH, 'failover', '--fault', 'partition', '--out-dir', out], { uid: 65534, gid: 65534, encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.equal(
      result.stderr.trim(),
      'zonelab: network faults (partition, reset) change nftables rules and need root: run as root, or use a gray fault (latency, errors, health-fail, flap)',
    );
    await assert.rejects(readFile(out), /ENOENT/);
  });
});
