import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveWorkers } from '../../src/server/index.js';
import { openSqlite } from '../../src/sqlite/index.js';
import { httpRequest } from '../helpers/http.js';
import { CLI_PATH } from '../helpers/paths.js';
import { processExists, startServeProcess } from '../helpers/serve-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

/** One request to the control socket (HTTP on a unix socket), as the lab sends it. */
function control(socketPath: string, method: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/fault', method }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `count` requests, each on a new connection (so the kernel picks a worker for each), their statuses. */
async function statuses(url: string, count: number, headers: Record<string, string> = {}): Promise<number[]> {
  const all: number[] = [];
  for (let i = 0; i < count; i++) all.push((await httpRequest(url, { headers })).status);
  return all;
}

type ServeProcess = Awaited<ReturnType<typeof startServeProcess>>;
/** The access log lines of answers with that status. */
const accessLines = (server: ServeProcess, status: number) => server.logs.filter((line) => (line.httpRequest as { status?: number } | undefined)?.status === status);
/** Which worker wrote a log line. */
const workerOf = (line: Record<string, unknown>) => (line['logging.googleapis.com/labels'] as { worker?: string }).worker;
/** The start-up line of worker `index`'s latest start. */
const latestStart = (server: ServeProcess, index: number) => server.logs.filter((line) => line.worker === index && typeof line.pid === 'number').at(-1);

describe('resolveWorkers (pure)', () => {
  it('takes a number as it is and auto as one per core', () => {
    assert.equal(resolveWorkers(3, 8), 3);
    assert.equal(resolveWorkers('auto', 2), 2);
    assert.equal(resolveWorkers('auto', 0), 1);
  });
});

describe('zonelab serve --workers 2 (real worker processes sharing one port, real signals)', () => {
  let bucket: TempBucket;
  before(async () => {
    bucket = await makeTempBucket(20);
  });
  after(() => bucket.remove());

  const start = (extra: string[] = []) =>
    startServeProcess(['--bucket', bucket.root, '--zone', 'us-east1-b', '--instance', 'vm-b', '--workers', '2', '--access-log', ...extra]);

  it('serves from every worker under one identity, each worker writing its own event file', async () => {
    const events = join(bucket.parent, 'events-identity');
    const server = await start(['--bus', `sqlite:${events}`]);
    try {
      assert.equal(server.workerPids().length, 2);
      assert.match(String(server.logs.find((line) => line.workers === 2)?.message), /with 2 workers; cache \d+ MiB each/);
      // Which worker answered is in its access log line. The kernel picks one per new
      // connection, with no promise of balance (SCHED_NONE): new connections until both have.
      const answers = [];
      const workers = () => new Set(accessLines(server, 200).map(workerOf));
      for (let i = 0; i < 1000 && (i < 40 || workers().size < 2); i++) {
        answers.push(await httpRequest(`${server.url}/bucket/webdir/${i % 20}.html`));
        if (i >= 40) await waitFor(() => accessLines(server, 200).length === i + 1, 5000, 'the access log line');
      }
      assert.ok(answers.every((answer) => answer.status === 200 && answer.headers['x-zone'] === 'us-east1-b' && answer.headers['x-instance'] === 'vm-b'));
      await waitFor(() => accessLines(server, 200).length >= answers.length, 5000, 'the access log lines');
      assert.deepEqual([...workers()].sort(), ['1', '2']);
      // Refused requests: every one committed, each by the worker that answered it, to its own file.
      assert.deepEqual(new Set(await statuses(`${server.url}/bucket/webdir/1.html`, 30, { 'X-country': 'Iran' })), new Set([400]));
      const files = readdirSync(events).filter((name) => name.endsWith('.events.db')).sort();
      assert.deepEqual(files, ['vm-b.worker-1.events.db', 'vm-b.worker-2.events.db']);
      const ids = new Set<string>();
      await waitFor(
        () => {
          ids.clear();
          for (const file of files) {
            // The project's own opener: node:sqlite where Node.js has it, better-sqlite3 on Node.js 20.
            const db = openSqlite(join(events, file), { readonly: true });
            for (const row of db.prepare<{ id: string; body: string }>('SELECT id, body FROM events').all()) {
              assert.equal(JSON.parse(row.body).instance, 'vm-b');
              ids.add(row.id);
            }
            db.close();
          }
          return ids.size >= 30;
        },
        5000,
        'the 30 events',
      );
      assert.equal(ids.size, 30);
    } finally {
      await server.kill();
    }
  });

  it('one control socket sets a gray fault in every worker, a restarted worker included, and heals it in all', async () => {
    const socket = join(bucket.parent, 'workers.sock');
    const server = await start(['--control', socket]);
    try {
      const page = `${server.url}/bucket/webdir/3.html`;
      assert.equal((await control(socket, 'PUT', '{"fault":"errors:1"}')).status, 200);
      assert.deepEqual(new Set(await statuses(page, 20)), new Set([500]));
      // A worker killed outright is started again, and starts with the fault in force.
      const first = server.logs.find((line) => line.worker === 1 && typeof line.pid === 'number')!.pid as number;
      process.kill(first, 'SIGKILL');
      await server.waitForLog((line) => String(line.message) === 'worker 1 exited (signal SIGKILL): starting it again');
      await waitFor(() => server.workerPids().length === 3, 5000, 'worker 1 to start again');
      assert.deepEqual(new Set(await statuses(page, 20)), new Set([500]));
      assert.deepEqual(JSON.parse((await control(socket, 'GET')).body), { fault: 'errors:1' });
      assert.equal((await control(socket, 'DELETE')).status, 200);
      assert.deepEqual(new Set(await statuses(page, 20)), new Set([200]));
    } finally {
      await server.kill();
    }
  });

  it('a fault set while a worker is starting again reaches it once it serves', { timeout: 60_000 }, async () => {
    const socket = join(bucket.parent, 'workers-restart.sock');
    const server = await start(['--control', socket]);
    try {
      process.kill(latestStart(server, 1)!.pid as number, 'SIGKILL');
      await server.waitForLog((line) => String(line.message) === 'worker 1 exited (signal SIGKILL): starting it again');
      // Sent while the new worker is still loading, before it could listen for it.
      assert.equal((await control(socket, 'PUT', '{"fault":"errors:1"}')).status, 200);
      await waitFor(() => server.workerPids().length === 3, 10_000, 'worker 1 to start again');
      // New connections until the restarted worker has answered some: every answer, its own included, is the fault's.
      const page = `${server.url}/bucket/webdir/3.html`;
      const seen = () => accessLines(server, 500).filter((line) => workerOf(line) === '1').length;
      const answers: number[] = [];
      for (let i = 0; i < 1000 && seen() < 5; i++) {
        answers.push(...(await statuses(page, 1)));
      }
      assert.ok(seen() >= 5, 'the restarted worker answered');
      assert.deepEqual(new Set(answers), new Set([500]));
    } finally {
      await server.kill();
    }
  });

  it('drains a worker that was starting again when SIGTERM came: exit 0, nothing left running', { timeout: 60_000 }, async () => {
    const server = await start(['--drain-seconds', '1']);
    try {
      process.kill(latestStart(server, 2)!.pid as number, 'SIGKILL');
      await server.waitForLog((line) => String(line.message) === 'worker 2 exited (signal SIGKILL): starting it again');
      // To the primary alone, as the lab stops a server: the new worker hears of the drain only from the primary.
      server.child.kill('SIGTERM');
      assert.deepEqual(await server.exited, { code: 0, signal: null });
      assert.ok(server.workerPids().every((pid) => !processExists(pid)), 'every worker has exited');
    } finally {
      await server.kill();
    }
  });

  it('stops with exit 1 when a worker keeps dying, so a supervisor sees a failure', { timeout: 60_000 }, async () => {
    const server = await start(['--drain-seconds', '0']);
    try {
      for (let death = 1; death <= 6; death++) {
        const pid = latestStart(server, 1)!.pid as number;
        process.kill(pid, 'SIGKILL');
        if (death === 6) break;
        await waitFor(() => latestStart(server, 1)!.pid !== pid, 10_000, `worker 1 to start again (death ${death})`);
      }
      await server.waitForLog((line) => /^worker 1 exited \(signal SIGKILL\), the 6th time in 60 s: stopping the server$/.test(String(line.message)));
      assert.deepEqual(await server.exited, { code: 1, signal: null });
    } finally {
      await server.kill();
    }
  });

  it('drains every worker on one SIGTERM to the primary: health 503, requests still answered, exit 0, no worker left', async () => {
    const server = await start(['--drain-seconds', '1']);
    try {
      const pids = server.workerPids();
      server.child.kill('SIGTERM');
      await waitFor(() => server.logs.filter((line) => String(line.message).startsWith('draining')).length === 2, 5000, 'both workers to drain');
      assert.deepEqual(new Set(await statuses(`${server.url}/healthz`, 10)), new Set([503]));
      assert.deepEqual(new Set(await statuses(`${server.url}/bucket/webdir/1.html`, 10)), new Set([200]));
      assert.deepEqual(await server.exited, { code: 0, signal: null });
      assert.ok(pids.every((pid) => !processExists(pid)), 'every worker has exited');
    } finally {
      await server.kill();
    }
  });

  it('takes its workers with it when the primary is killed outright', async () => {
    const server = await start();
    const pids = server.workerPids();
    server.child.kill('SIGKILL');
    await server.exited;
    await waitFor(() => pids.every((pid) => !processExists(pid)), 5000, 'the workers to exit');
    await assert.rejects(httpRequest(`${server.url}/healthz`), /ECONNREFUSED/);
    await server.kill();
  });

  it('stops with one line and exit 1 when a worker cannot start, leaving nothing running', async () => {
    const instance = `workers-fail-${process.pid}`;
    const child = spawn(process.execPath, [CLI_PATH, 'serve', '--bucket', join(bucket.parent, 'missing'), '--host', '127.0.0.1', '--port', '0', '--zone', 'z', '--instance', instance, '--workers', '2', '--bus', 'log'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /^zonelab: worker \d exited \(code 1\) before it was listening: its log lines above say why$/m);
    assert.match(stderr, /^zonelab: bucket folder .*missing does not exist or is not a folder$/m);
    const left = spawnSync('pgrep', ['-f', `zonelab serve ${instance}`], { encoding: 'utf8' });
    assert.equal(left.stdout.trim(), '', 'no worker left running');
  });
});
