import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { rssKiB } from '../helpers/lab-process.js';
import { type ServeProcess, startServeProcess } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait.js';

// V8 sizes its young generation from the machine's memory and grows it under a high
// allocation rate: on this 24 GiB machine, with a 16 MiB cache, Node.js 24 commits up to
// 165 MiB of heap of which 41 MiB are used, Node.js 20 far less. The servers run here with
// the young generation's semi-spaces held at 4 MiB each, so what is measured is the cache
// and the server, not V8's sizing for the machine the test runs on.
const SERVER_NODE_OPTIONS = '--max-semi-space-size=4';
// What resident memory may grow by beyond the cache: V8's heap around the live objects,
// parser buffers, sockets. Measured with the setting above after 40,000 and after 120,000
// distinct 4 KB missing paths (the same: a plateau): +25 MiB on Node.js 20, +57 MiB on 24,
// +64 MiB on 26.
const MARGIN_MIB = 96;
// What memory may still grow by, once a first flood has shown the plateau, while twice as
// many distinct paths again arrive. A cache that kept every distinct path (what this
// guards against) grows by their size: 80,000 × 4 KB, over 300 MiB.
const PLATEAU_MIB = 32;
const CONNECTIONS = 8;

function serverEnv(): Record<string, string> {
  return { NODE_OPTIONS: [process.env.NODE_OPTIONS, SERVER_NODE_OPTIONS].filter(Boolean).join(' ') };
}

interface Health {
  cacheBytes: number;
  cacheMaxBytes: number;
  cachedObjects: number;
  cachedMisses: number;
  cacheMaxMisses: number;
}

/**
 * Sends `count` requests over `CONNECTIONS` keep-alive connections, each for `pathOf(i)`,
 * and a /healthz request after every 1000th: all must be answered, health with 200.
 */
async function flood(pool: Pool, count: number, pathOf: (i: number) => string, expected: number): Promise<Health> {
  let next = 0;
  let health: Health | undefined;
  const statuses = new Map<number, number>();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < count) {
        const i = next++;
        const response = await pool.request({ path: pathOf(i), method: 'GET' });
        await response.body.dump();
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        if (i % 1000 === 999) {
          const check = await pool.request({ path: '/healthz', method: 'GET' });
          assert.equal(check.statusCode, 200, `the server answers its health check during the flood (request ${i})`);
          health = (await check.body.json()) as Health;
        }
      }
    }),
  );
  assert.deepEqual([...statuses], [[expected, count]], 'every request answered as expected');
  return health!;
}

/** Polls until the server's resident memory is within `limitKiB`; returns the last reading. */
async function settlesWithin(pid: number, limitKiB: number, what: string): Promise<number> {
  let now = rssKiB(pid)!;
  // The heap shrinks when the garbage collector runs at idle: a deadline, not a sleep.
  await waitFor(
    () => {
      now = rssKiB(pid)!;
      return now <= limitKiB;
    },
    20_000,
    what,
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${now} KiB, limit ${limitKiB} KiB`);
  });
  return now;
}

describe('server memory stays within its cache under hostile traffic (real serve process)', () => {
  let parent: string;
  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-memory-'));
  });
  after(() => rm(parent, { recursive: true, force: true }));

  it('floods of distinct 4 KB missing paths: memory within the cache plus a fixed margin, no growth from the second flood on, and the server answers throughout', async (t) => {
    const bucket = join(parent, 'few');
    await mkdir(bucket);
    await writeFile(join(bucket, 'index.html'), 'one object');
    const cacheMib = 16;
    let server: ServeProcess | undefined;
    let pool: Pool | undefined;
    try {
      server = await startServeProcess(['--bucket', bucket, '--zone', 'zone-a', '--instance', 'flooded', '--cache-mb', String(cacheMib), '--bus', 'log'], serverEnv());
      assert.match(String(server.logs.find((line) => line.address)?.message), /cache 16 MiB \(--cache-mb 16\)/);
      pool = new Pool(server.url, { connections: CONNECTIONS });
      const pid = server.child.pid!;
      const beforeKiB = rssKiB(pid)!;
      const padding = 'p'.repeat(4000);
      const first = await flood(pool, 40_000, (i) => `/few/missing/${i}/${padding}`, 404);
      assert.ok(first.cacheBytes <= first.cacheMaxBytes, `cache charged ${first.cacheBytes} of ${first.cacheMaxBytes} bytes`);
      const limitKiB = beforeKiB + (cacheMib + MARGIN_MIB) * 1024;
      const afterFirstKiB = await settlesWithin(pid, limitKiB, 'resident memory within the cache plus the margin after the first flood');
      const second = await flood(pool, 80_000, (i) => `/few/missing/second-${i}/${padding}`, 404);
      assert.ok(second.cachedMisses <= second.cacheMaxMisses, `misses remembered: ${second.cachedMisses} of at most ${second.cacheMaxMisses}`);
      assert.ok(second.cacheBytes <= second.cacheMaxBytes, `cache charged ${second.cacheBytes} of ${second.cacheMaxBytes} bytes`);
      const afterSecondKiB = await settlesWithin(pid, Math.min(limitKiB, afterFirstKiB + PLATEAU_MIB * 1024), 'no growth from 80,000 more distinct missing paths');
      t.diagnostic(
        `resident memory ${beforeKiB} KiB before, ${afterFirstKiB} KiB after 40,000 distinct missing paths, ${afterSecondKiB} KiB after 80,000 more; ${second.cachedMisses} misses remembered`,
      );
    } finally {
      await pool?.close();
      await server?.kill();
    }
  });

  it('30,000 distinct small objects: memory within the cache plus the same margin, the cache evicting by what entries cost', async (t) => {
    const bucket = join(parent, 'many');
    const count = 30_000;
    // Long names (about 200 characters) and small bodies: what the old per-entry charge undercounted.
    const nameOf = (i: number) => `d${i % 50}/${String(i).padStart(6, '0')}-${'n'.repeat(180)}.html`;
    for (let dir = 0; dir < 50; dir++) await mkdir(join(bucket, `d${dir}`), { recursive: true });
    for (let i = 0; i < count; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => writeFile(join(bucket, nameOf(i + j)), `object ${i + j}\n`)));
    }
    const cacheMib = 4;
    let server: ServeProcess | undefined;
    let pool: Pool | undefined;
    try {
      server = await startServeProcess(['--bucket', bucket, '--zone', 'zone-a', '--instance', 'many', '--cache-mb', String(cacheMib), '--bus', 'log'], serverEnv());
      pool = new Pool(server.url, { connections: CONNECTIONS });
      const pid = server.child.pid!;
      const beforeKiB = rssKiB(pid)!;
      const health = await flood(pool, count, (i) => `/many/${nameOf(i)}`, 200);
      // The cache's own account (what it charged, what it evicted) and the process's.
      assert.ok(health.cacheBytes <= health.cacheMaxBytes, `cache charged ${health.cacheBytes} of ${health.cacheMaxBytes} bytes`);
      assert.ok(health.cachedObjects < count, `objects were evicted (${health.cachedObjects} held)`);
      const limitKiB = beforeKiB + (cacheMib + MARGIN_MIB) * 1024;
      const afterKiB = await settlesWithin(pid, limitKiB, 'resident memory within the cache plus the margin');
      t.diagnostic(`resident memory ${beforeKiB} KiB before, ${afterKiB} KiB after ${count} objects; ${health.cachedObjects} held`);
    } finally {
      await pool?.close();
      await server?.kill();
    }
  });
});
