import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRequestModel, type RequestResult, runLoad } from '../../src/client/index.js';
import { openLab } from '../../src/lab/index.js';
import { detectionBound, returnBound } from '../../src/lb/index.js';
import { freePort } from '../helpers/free-port.js';
import { alive, labPids, skipWithoutHaproxy, zonelab, endLabsUnder } from '../helpers/lab-process.js';
import { assertWithin, withLoopDelay } from '../helpers/lag.js';
import { CLI_PATH } from '../helpers/paths.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

const skip = skipWithoutHaproxy;

describe('zonelab lab (real HAProxy, real server processes)', { skip }, () => {
  let parent: string;
  let bucket: TempBucket;
  const dirs: string[] = [];
  const supervisors: ChildProcess[] = [];

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-lab-'));
    bucket = await makeTempBucket(50);
  });
  after(async () => {
    // Whatever a failed test left running goes down here.
    try {
      await endLabsUnder(parent, dirs);
    } finally {
      // A foreground supervisor ends once its lab is down; one that did not is killed.
      for (const supervisor of supervisors) if (supervisor.exitCode === null && supervisor.signalCode === null) supervisor.kill('SIGKILL');
      await bucket.remove();
      await rm(parent, { recursive: true, force: true });
    }
  });

  async function up(name: string, extra: string[] = []): Promise<{ dir: string; lbPort: number; result: Awaited<ReturnType<typeof zonelab>> }> {
    const dir = join(parent, name);
    dirs.push(dir);
    const lbPort = await freePort();
    const backendPort = await freePort('127.0.1.1');
    const result = await zonelab(
      'lab', 'up', '--detach', '--dir', dir, '--listen', `127.0.0.1:${lbPort}`, '--port', String(backendPort), '--bucket', bucket.root, '--profile', 'fast', ...extra,
    );
    return { dir, lbPort, result };
  }

  /** `lab up` in the foreground, as a child process, once it watches the backends. */
  async function foregroundLab(name: string, extra: string[] = []) {
    const dir = join(parent, name);
    dirs.push(dir);
    const lbPort = await freePort();
    const backendPort = await freePort('127.0.1.1');
    const supervisor = spawn(process.execPath, [CLI_PATH, 'lab', 'up', '--dir', dir, '--listen', `127.0.0.1:${lbPort}`, '--port', String(backendPort), '--bucket', bucket.root, ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    supervisors.push(supervisor);
    let stdout = '';
    supervisor.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    const exited = new Promise<number | null>((resolve) => supervisor.on('exit', resolve));
    await waitFor(() => stdout.includes('watching backend states'), 20_000, 'lab up in the foreground');
    return { dir, lbPort, supervisor, exited, output: () => stdout };
  }

  it('splits traffic, notices a killed zone and its return within the spec’s bounds, and leaves nothing behind', async (t) => {
    const { dir, lbPort, result } = await up('e2e');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /us-east1-b-vm1 .* running +- +serving/);
    assert.match(result.stdout, /us-east1-c-vm1 .* running +- +serving/);

    const records: RequestResult[] = [];
    await runLoad({
      origin: `http://127.0.0.1:${lbPort}`,
      next: createRequestModel({ bucket: 'bucket', webdir: 'webdir', index: 50, seed: 3 }),
      mode: { kind: 'closed', concurrency: 4 },
      requests: 400,
      keepalive: false,
      connections: 1,
      timeoutMs: 5000,
      retries: 0,
      follow: false,
      signal: new AbortController().signal,
      onResult: (record) => void records.push(record),
    });
    const fromB = records.filter((r) => r.zone === 'us-east1-b').length;
    const fromC = records.filter((r) => r.zone === 'us-east1-c').length;
    assert.equal(fromB + fromC, 400, 'every request answered by one of the zones');
    assert.ok(fromB >= 160 && fromB <= 240, `zone b served ${fromB} of 400`);

    const lab = await openLab(dir);
    const balancer = lab.balancer()!;
    const stateOf = async (name: string) => (await balancer.view())?.find((s) => s.server === name)?.status ?? '';
    const spec = lab.state.spec;
    // DOWN from the kill, UP from the moment the restarted server answered its own check
    // (lab.start waits for that): what the spec bounds, the process's start-up aside.
    const downSpan = await withLoopDelay(async () => {
      const killedAt = performance.now();
      await lab.stop('us-east1-c', 'KILL');
      await waitFor(async () => (await stateOf('us-east1-c-vm1')).startsWith('DOWN'), 10_000, 'DOWN');
      return performance.now() - killedAt;
    });
    await lab.start('us-east1-c');
    const upSpan = await withLoopDelay(async () => {
      const readyAt = performance.now();
      await waitFor(async () => (await stateOf('us-east1-c-vm1')) === 'UP', 10_000, 'UP');
      return performance.now() - readyAt;
    });
    // Each poll of HAProxy's state is 10 ms after the last: that, plus the lag of the span.
    assertWithin('DOWN after SIGKILL', downSpan.value, { highMs: detectionBound(spec, 'haproxy', 'fails-fast')!.sec * 1000 + 10 }, downSpan.worstDelayMs);
    assertWithin('UP after ready', upSpan.value, { highMs: returnBound(spec, 'haproxy', 'fails-fast').sec * 1000 + 10 }, upSpan.worstDelayMs);
    t.diagnostic(`zone b served ${fromB}/400; DOWN ${Math.round(downSpan.value)} ms after SIGKILL, UP ${Math.round(upSpan.value)} ms after the server was ready; lag ${Math.round(downSpan.worstDelayMs)} and ${Math.round(upSpan.worstDelayMs)} ms`);

    const pids = await labPids(dir);
    assert.equal(pids.length, 4);
    const down = await zonelab('lab', 'down', '--dir', dir);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(pids.filter(alive), [], 'lab processes still alive after lab down');
  });

  it('is cleaned by lab down after its foreground supervisor was killed with SIGKILL', async () => {
    const { dir, supervisor, exited } = await foregroundLab('orphaned');
    supervisor.kill('SIGKILL');
    await exited;
    const pids = await labPids(dir);
    assert.ok(pids.every(alive), 'the lab outlives its supervisor until lab down');
    const down = await zonelab('lab', 'down', '--dir', dir);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(pids.filter(alive), []);
  });

  it('in the foreground, says in words what happens to each zone and how HAProxy split the traffic, and ends on "lab down" from another shell', async () => {
    const { dir, lbPort, exited, output } = await foregroundLab('words', ['--profile', 'fast']);
    const pids = await labPids(dir);
    const traffic = runLoad({
      origin: `http://127.0.0.1:${lbPort}`,
      next: createRequestModel({ bucket: 'bucket', webdir: 'webdir', index: 50, seed: 5 }),
      mode: { kind: 'open', rate: 50 },
      durationMs: 2500,
      keepalive: false,
      connections: 1,
      timeoutMs: 2000,
      retries: 0,
      follow: false,
      signal: new AbortController().signal,
      onResult: () => {},
    });
    await waitFor(() => /the load balancer sent in the last second: us-east1-b \d+ \(\d+%\), us-east1-c \d+ \(\d+%\)/.test(output()), 10_000, 'a split line');
    await traffic;
    assert.equal((await zonelab('lab', 'stop', 'us-east1-b', '--dir', dir)).code, 0);
    await waitFor(() => /us-east1-b-vm1 \(us-east1-b\) stopped\n/.test(output()), 5000, 'the stop in words');
    await waitFor(() => /us-east1-b-vm1 \(us-east1-b\) checks failing \(1 of 2\) → down/.test(output()), 10_000, 'down in words');
    assert.equal((await zonelab('lab', 'fault', 'us-east1-c', 'health-fail', '--dir', dir)).code, 0);
    await waitFor(() => /us-east1-c-vm1 \(us-east1-c\) running, fault health-fail\n/.test(output()), 5000, 'the fault in words');
    const down = await zonelab('lab', 'down', '--dir', dir);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(await exited, 0);
    assert.match(output(), /lab stopped by "zonelab lab down" from another shell\n$/);
    assert.deepEqual(pids.filter(alive), []);
  });

  it('stops everything and exits 0 on Ctrl-C in the foreground', async () => {
    const { dir, supervisor, exited, output } = await foregroundLab('foreground');
    const pids = await labPids(dir);
    supervisor.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.match(output(), /lab stopped\n$/);
    assert.deepEqual(pids.filter(alive), []);
  });

  it('names a busy address, who holds it and the flag to change, before anything starts', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const dir = join(parent, 'port-taken');
      dirs.push(dir);
      const backendPort = await freePort('127.0.1.1');
      const result = await zonelab('lab', 'up', '--detach', '--dir', dir, '--listen', `127.0.0.1:${port}`, '--port', String(backendPort), '--bucket', bucket.root);
      assert.equal(result.code, 1);
      // This test process holds the port: its title is what /proc says.
      assert.equal(result.stderr, `zonelab: 127.0.0.1:${port} is in use by ${process.title.startsWith('zonelab ') ? process.title : readFileSync('/proc/self/comm', 'utf8').trim()} (pid ${process.pid}): stop it, or choose another with --listen 127.0.0.1:<port>\n`);
      assert.equal(existsSync(dir), false, 'nothing written');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    const serverBlocker = createServer();
    const serverPort = await freePort('127.0.1.2');
    await new Promise<void>((resolve) => serverBlocker.listen(serverPort, '127.0.1.2', resolve));
    try {
      const dir = join(parent, 'server-port-taken');
      dirs.push(dir);
      const result = await zonelab('lab', 'up', '--detach', '--dir', dir, '--listen', `127.0.0.1:${await freePort()}`, '--port', String(serverPort), '--bucket', bucket.root);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`^zonelab: 127\\.0\\.1\\.2:${serverPort} is in use by .* \\(pid ${process.pid}\\): stop it, or choose another with --port <n> \\(the servers' port\\)\\n$`));
      assert.equal(existsSync(dir), false);
    } finally {
      await new Promise((resolve) => serverBlocker.close(resolve));
    }
  });

  it('says so when there is no lab to stop, or the zone is already as asked, and suggests a zone for a typo', async () => {
    const none = await zonelab('lab', 'down', '--dir', join(parent, 'never-started'));
    assert.equal(none.code, 0);
    assert.equal(none.stdout, `no lab running in ${join(parent, 'never-started')}\n`);
    const { dir, result } = await up('already');
    assert.equal(result.code, 0, result.stderr);
    // pgrep -af zonelab finds the lab: its processes name themselves.
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    const title = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    assert.deepEqual(state.servers.map((server: { pid: number }) => title(server.pid)), ['zonelab serve us-east1-b-vm1', 'zonelab serve us-east1-c-vm1']);
    assert.equal(title(state.audit.pid), 'zonelab audit lab-audit');
    const started = await zonelab('lab', 'start', 'us-east1-b', '--dir', dir);
    assert.equal(started.stdout, 'us-east1-b-vm1 already running\n');
    const stopped = await zonelab('lab', 'stop', 'us-east1-b', '--signal', 'kill', '--dir', dir);
    assert.match(stopped.stdout, /sent SIGKILL to us-east1-b-vm1/);
    const again = await zonelab('lab', 'stop', 'us-east1-b', '--dir', dir);
    assert.equal(again.stdout, 'us-east1-b-vm1 already stopped (start with "zonelab lab start us-east1-b")\n');
    const typo = await zonelab('lab', 'start', 'us-east1-x', '--dir', dir);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /no zone or instance named "us-east1-x" in this lab: did you mean us-east1-b\?/);
    const socket = join(dir, 'lb', 'haproxy.sock');
    assert.equal(existsSync(socket), true);
    assert.equal((await zonelab('lab', 'down', '--dir', dir)).code, 0);
    assert.equal(existsSync(socket), false, 'no stale HAProxy socket after lab down');
  });

  it('says how to install HAProxy when it is missing', async () => {
    const { stderr, code } = await new Promise<{ stderr: string; code: number | null }>((resolve) => {
      const child = spawn(process.execPath, [CLI_PATH, 'lab', 'up', '--dir', join(parent, 'no-haproxy')], { env: { ...process.env, PATH: '/nonexistent' } });
      let err = '';
      child.stderr.on('data', (chunk) => {
        err += chunk;
      });
      child.on('exit', (exitCode) => resolve({ stderr: err, code: exitCode }));
    });
    assert.equal(code, 1);
    assert.equal(stderr.trim(), 'zonelab: HAProxy is not installed: install it with "apt-get install -y haproxy" (or choose another --lb)');
  });
});
