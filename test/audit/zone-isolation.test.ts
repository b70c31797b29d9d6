import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AuditProcess, startAuditProcess } from '../helpers/audit-process.js';
import { type ServeProcess, startServeProcess } from '../helpers/serve-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';

const FREEZES = 50;
const MID_COMMIT_FREEZES = 10;

/**
 * Whether `pid` holds SQLite's WAL write lock: a POSIX write lock on byte 120 of a `-shm`
 * file (WAL_WRITE_LOCK, see sqlite3's wal.c: WALINDEX_LOCK_OFFSET 120), held from the first
 * write of a transaction to its commit. Read from /proc/locks while the process is frozen.
 */
function holdsWalWriteLock(pid: number): boolean {
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1] === 'POSIX' && fields[3] === 'WRITE' && fields[4] === String(pid) && fields[6] === '120' && fields[7] === '120';
    });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One forbidden request; resolves with its status and X-Event-Id, or the error's code. */
function forbidden(server: ServeProcess, agent: Agent, n: number): Promise<{ status: number | null; id: string | null; error: string | null }> {
  return new Promise((resolve) => {
    const req = request(`${server.url}/bucket/webdir/${n % 5}.html`, { agent, headers: { 'X-country': 'Iran', 'X-client-IP': `10.9.${n >> 8 & 255}.${n & 255}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? null, id: (res.headers['x-event-id'] as string | undefined) ?? null, error: null }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: null, id: null, error: error.code ?? error.message }));
    req.end();
  });
}

function healthz(server: ServeProcess): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/healthz`, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`/healthz ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('/healthz timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('zones share nothing: a frozen server never slows another zone (two server processes, one audit)', () => {
  let dir: string;
  let bucket: TempBucket;
  let servers: ServeProcess[] = [];
  let audit: AuditProcess | null = null;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-isolation-'));
    bucket = await makeTempBucket(5);
    const events = join(dir, 'events');
    const started = await Promise.allSettled(
      ['a', 'b'].map((zone) => startServeProcess(['--bucket', bucket.root, '--zone', `zone-${zone}`, '--instance', `vm-${zone}`, '--bus', `sqlite:${events}`])),
    );
    servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    audit = startAuditProcess(['--bus', `sqlite:${events}`, '--consumer', 'isolation']);
  });
  after(async () => {
    for (const server of servers) server.child.kill('SIGCONT');
    await Promise.all([...servers.map((s) => s.kill()), audit?.kill()]);
    await bucket.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it(`≥ ${FREEZES} SIGSTOPs of zone-a under forbidden traffic (≥ ${MID_COMMIT_FREEZES} mid-commit): zone-b's /healthz p99 < 50 ms, no zone-b request fails, every event printed once`, async (t) => {
    const [frozen, healthy] = servers as [ServeProcess, ServeProcess];
    const stop = new AbortController();
    const agentA = new Agent({ keepAlive: true, maxSockets: 4 });
    const agentB = new Agent({ keepAlive: true, maxSockets: 4 });
    const results = { a: [] as Awaited<ReturnType<typeof forbidden>>[], b: [] as Awaited<ReturnType<typeof forbidden>>[] };
    let sent = 0;
    // Four requests in flight to each zone at all times: the frozen zone's server is
    // committing events most of the time, so freezes land mid-commit as well as between.
    const drive = async (server: ServeProcess, agent: Agent, into: Awaited<ReturnType<typeof forbidden>>[]) => {
      while (!stop.signal.aborted) into.push(await forbidden(server, agent, sent++));
    };
    const drivers = [
      ...Array.from({ length: 4 }, () => drive(frozen, agentA, results.a)),
      ...Array.from({ length: 4 }, () => drive(healthy, agentB, results.b)),
    ];
    const health: number[] = [];
    const prober = (async () => {
      while (!stop.signal.aborted) {
        health.push(await healthz(healthy));
        await sleep(10);
      }
    })();
    let freezes = 0;
    let midCommit = 0;
    try {
      // Freeze at random moments until enough froze it inside a commit (holding its write
      // lock); those are held longest, the case that once blocked the other zone.
      while ((freezes < FREEZES || midCommit < MID_COMMIT_FREEZES) && freezes < 1000) {
        frozen.child.kill('SIGSTOP');
        freezes++;
        // The stop is delivered at once to a running process; give the kernel a moment.
        await sleep(2);
        const inCommit = holdsWalWriteLock(frozen.child.pid!);
        if (inCommit) midCommit++;
        await sleep(inCommit ? 300 : 20 + Math.floor(Math.random() * 80));
        frozen.child.kill('SIGCONT');
        await sleep(Math.floor(Math.random() * 30));
      }
    } finally {
      stop.abort();
      frozen.child.kill('SIGCONT');
      await Promise.all([...drivers, prober]);
      agentA.destroy();
      agentB.destroy();
    }

    assert.ok(midCommit >= MID_COMMIT_FREEZES, `only ${midCommit} of ${freezes} freezes landed mid-commit`);
    assert.ok(health.length > 200, `only ${health.length} health probes`);
    const p99 = percentile(health, 99);
    t.diagnostic(`${freezes} freezes (${midCommit} mid-commit); zone-b /healthz p99 ${p99.toFixed(1)} ms, max ${Math.max(...health).toFixed(1)} ms over ${health.length} probes; ${results.b.length} zone-b requests, ${results.a.length} zone-a`);
    assert.ok(p99 < 50, `zone-b /healthz p99 ${p99.toFixed(1)} ms over ${health.length} probes (max ${Math.max(...health).toFixed(1)} ms)`);
    assert.ok(results.b.length > 500, `only ${results.b.length} requests to zone-b`);
    assert.deepEqual(results.b.filter((r) => r.status !== 400 || r.id === null), [], 'every zone-b request answered 400 with an event id');
    assert.ok(results.a.length > 100, `only ${results.a.length} requests to zone-a`);

    const ids = [...results.a, ...results.b].flatMap((r) => (r.status === 400 && r.id ? [r.id] : []));
    await audit!.waitForLines(ids.length, 30_000);
    audit!.child.kill('SIGTERM');
    await audit!.exited;
    const printed = audit!.lines.map((line) => /\bid=(\S+)$/.exec(line)?.[1] ?? `unparsed: ${line}`);
    assert.equal(printed.length, new Set(printed).size, 'no event printed twice');
    assert.deepEqual([...printed].sort(), [...ids].sort(), 'every X-Event-Id printed');
  });
});
