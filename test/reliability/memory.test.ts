import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { rssKiB } from '../helpers/lab-process.js';
import { type ServeProcess, startServeProcess } from '../helpers/serve-process.js';
import { waitFor } from '../helpers/wait.js';

// What a server's resident memory may grow by beyond its cache, whatever the traffic: the
// heap V8 keeps after a burst of garbage, parser buffers, sockets. Measured here: about
// 30-45 MiB after 40,000 requests with no cache at all, and the same after 120,000.
const MARGIN_MIB = 64;
const CONNECTIONS = 8;

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

  it('a flood of 40,000 distinct 4 KB missing paths leaves memory within the cache plus a fixed margin, and the server answers throughout', async (t) => {
    const bucket = join(parent, 'few');
    await mkdir(bucket);
    await writeFile(join(bucket, 'index.html'), 'one object');
    const cacheMib = 16;
    let server: ServeProcess | undefined;
    let pool: Pool | undefined;
    try {
      server = await startServeProcess(['--bucket', bucket, '--zone', 'zone-a', '--instance', 'flooded', '--cache-mb', String(cacheMib), '--bus', 'log']);
      assert.match(String(server.logs.find((line) => line.address)?.message), /cache 16 MiB \(--cache-mb 16\)/);
      pool = new Pool(server.url, { connections: CONNECTIONS });
      const pid = server.child.pid!;
      const beforeKiB = rssKiB(pid)!;
      const padding = 'p'.repeat(4000);
      const health = await flood(pool, 40_000, (i) => `/few/missing/${i}/${padding}`, 404);
      assert.ok(health.cachedMisses <= health.cacheMaxMisses, `misses remembered: ${health.cachedMisses} of at most ${health.cacheMaxMisses}`);
      assert.ok(health.cacheBytes <= health.cacheMaxBytes, `cache charged ${health.cacheBytes} of ${health.cacheMaxBytes} bytes`);
      const limitKiB = beforeKiB + (cacheMib + MARGIN_MIB) * 1024;
      const afterKiB = await settlesWithin(pid, limitKiB, 'resident memory within the cache plus the margin');
      t.diagnostic(`resident memory ${beforeKiB} KiB before, ${afterKiB} KiB after 40,000 missing paths; ${health.cachedMisses} misses remembered`);
    } finally {
      await pool?.close();
      await server?.kill();
    }
  });

  it('20,000 distinct small objects leave memory within the cache plus the same margin, the cache evicting by what entries cost', async (t) => {
    const bucket = join(parent, 'many');
    const count = 20_000;
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
      server = await startServeProcess(['--bucket', bucket, '--zone', 'zone-a', '--instance', 'many', '--cache-mb', String(cacheMib), '--bus', 'log']);
      pool = new Pool(server.url, { connections: CONNECTIONS });
      const pid = server.child.pid!;
      const beforeKiB = rssKiB(pid)!;
      const health = await flood(pool, count, (i) => `/many/${nameOf(i)}`, 200);
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
