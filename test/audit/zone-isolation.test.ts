import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventFileOf } from '../../src/bus/index.js';
import { openSqlite } from '../../src/sqlite/index.js';
import { type AuditProcess, startAuditProcess } from '../helpers/audit-process.js';
import { type ServeProcess, startServeProcess } from '../helpers/serve-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

// Freezes at random moments, some of which land inside a commit.
const RANDOM_FREEZES = 40;
// Freezes with zone-a's event file write-locked (as a freeze inside a commit leaves it),
// made so on purpose rather than waited for by luck.
const LOCKED_FREEZES = 10;
// What zone-b must complete while each locked freeze lasts: a zone that waited on zone-a's
// lock would complete none until the freeze ends, however fast the machine.
const DURING_EACH_FREEZE = 3;

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

/** The process's state letter (R, S, T stopped, Z …) from /proc/<pid>/stat. */
function processState(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? '?';
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One forbidden request; resolves with when it was sent, its status and X-Event-Id, or the error's code. */
function forbidden(server: ServeProcess, agent: Agent, n: number): Promise<{ sentAt: number; status: number | null; id: string | null; error: string | null }> {
  const sentAt = performance.now();
  return new Promise((resolve) => {
    const req = request(`${server.url}/bucket/webdir/${n % 5}.html`, { agent, headers: { 'X-country': 'Iran', 'X-client-IP': `10.9.${n >> 8 & 255}.${n & 255}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ sentAt, status: res.statusCode ?? null, id: (res.headers['x-event-id'] as string | undefined) ?? null, error: null }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ sentAt, status: null, id: null, error: error.code ?? error.message }));
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

describe('zones share nothing: a frozen server never holds up another zone (two server processes, one audit)', () => {
  let dir: string;
  let bucket: TempBucket;
  let servers: ServeProcess[] = [];
  let audit: AuditProcess | null = null;
  let events: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-isolation-'));
    bucket = await makeTempBucket(5);
    events = join(dir, 'events');
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

  it(`${RANDOM_FREEZES} SIGSTOPs of zone-a at random moments and ${LOCKED_FREEZES} with its event file write-locked, under forbidden traffic: zone-b keeps committing through every one, none of its requests fails, every event is printed once`, async (t) => {
    const [frozen, healthy] = servers as [ServeProcess, ServeProcess];
    const stop = new AbortController();
    const agentA = new Agent({ keepAlive: true, maxSockets: 4 });
    const agentB = new Agent({ keepAlive: true, maxSockets: 4 });
    const results = { a: [] as Awaited<ReturnType<typeof forbidden>>[], b: [] as Awaited<ReturnType<typeof forbidden>>[] };
    let sent = 0;
    // Four requests in flight to each zone at all times: the frozen zone's server is
    // committing events most of the time, so random freezes land mid-commit as well as between.
    const drive = async (server: ServeProcess, agent: Agent, into: Awaited<ReturnType<typeof forbidden>>[]) => {
      while (!stop.signal.aborted) into.push(await forbidden(server, agent, sent++));
    };
    const drivers = [
      ...Array.from({ length: 4 }, () => drive(frozen, agentA, results.a)),
      ...Array.from({ length: 4 }, () => drive(healthy, agentB, results.b)),
    ];
    const health: number[] = [];
    // When each answered health probe had been sent.
    const healthSentAt: number[] = [];
    const prober = (async () => {
      while (!stop.signal.aborted) {
        const sentAt = performance.now();
        health.push(await healthz(healthy));
        healthSentAt.push(sentAt);
        await sleep(10);
      }
    })();
    const freeze = async () => {
      frozen.child.kill('SIGSTOP');
      // A stop is delivered asynchronously: wait until the kernel shows the process stopped.
      await waitFor(() => processState(frozen.child.pid!) === 'T', 5000, 'zone-a stopped');
    };
    const thaw = () => frozen.child.kill('SIGCONT');
    let midCommit = 0;
    const locker = openSqlite(eventFileOf(events, 'vm-a'));
    // Waits out a commit of zone-a's own before taking its write lock.
    locker.pragma('busy_timeout = 10000');
    try {
      for (let i = 0; i < RANDOM_FREEZES; i++) {
        await freeze();
        const inCommit = holdsWalWriteLock(frozen.child.pid!);
        if (inCommit) midCommit++;
        await sleep(inCommit ? 300 : 20 + Math.floor(Math.random() * 80));
        thaw();
        await sleep(Math.floor(Math.random() * 30));
      }
      for (let i = 0; i < LOCKED_FREEZES; i++) {
        // Zone-a's WAL write lock held, then zone-a frozen: what a freeze inside its commit
        // leaves for everyone else. Zone-b and the audit must not notice.
        locker.exec('BEGIN IMMEDIATE');
        await freeze();
        // Only requests sent after the freeze count: answers already on their way when the
        // lock was taken prove nothing.
        const frozenAt = performance.now();
        await waitFor(
          () => results.b.filter((r) => r.sentAt > frozenAt).length >= DURING_EACH_FREEZE && healthSentAt.some((at) => at > frozenAt),
          20_000,
          `zone-b to complete ${DURING_EACH_FREEZE} forbidden requests and a health check while zone-a is frozen with its lock held (locked freeze ${i + 1})`,
        );
        locker.exec('COMMIT');
        thaw();
        await sleep(Math.floor(Math.random() * 30));
      }
    } finally {
      stop.abort();
      // Ends a transaction a failure left open, which releases zone-a's lock.
      locker.close();
      thaw();
      await Promise.all([...drivers, prober]);
      agentA.destroy();
      agentB.destroy();
    }

    const p99 = percentile(health, 99);
    t.diagnostic(
      `${RANDOM_FREEZES} random freezes (${midCommit} mid-commit) and ${LOCKED_FREEZES} with the lock held; zone-b /healthz p99 ${p99.toFixed(1)} ms, max ${Math.max(...health).toFixed(1)} ms over ${health.length} probes; ${results.b.length} zone-b requests, ${results.a.length} zone-a`,
    );
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
