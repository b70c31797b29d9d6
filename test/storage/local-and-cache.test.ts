import assert from 'node:assert/strict';
import { mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isZonelabError } from '../../src/errors.js';
import { availableMemoryBytes, createCachedStore, createLocalDirStore, createObjectStore, parseGcsUrl, resolveCacheSize, type ObjectStore } from '../../src/storage/index.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

describe('local-dir store', () => {
  let bucket: TempBucket;
  let store: ObjectStore;

  before(async () => {
    bucket = await makeTempBucket(2);
    await writeFile(join(bucket.parent, 'outside.txt'), 'secret');
    await symlink(join(bucket.parent, 'outside.txt'), join(bucket.root, 'link-out.txt'));
    await mkdir(join(bucket.parent, 'bucket-sibling'));
    await writeFile(join(bucket.parent, 'bucket-sibling', 'x.txt'), 'sibling');
    store = await createLocalDirStore({ root: bucket.root });
  });
  after(async () => {
    await store.close();
    await bucket.remove();
  });

  it('names the bucket after the folder', () => assert.equal(store.bucketName, 'bucket'));

  it('reads objects and stats them without reading', async () => {
    const object = await store.get('webdir/0.html');
    assert.ok(object && object.body.length === object.meta.size);
    assert.deepEqual(await store.stat('webdir/0.html'), object.meta);
  });

  it('returns null for missing objects, folders, and anything outside the folder', async () => {
    for (const key of ['webdir/9.html', 'webdir', '../outside.txt', 'link-out.txt', '../bucket-sibling/x.txt', 'a\0b', 'webdir/0.html/x']) {
      assert.equal(await store.get(key), null, key);
    }
  });

  it('stats in the same turn what stat tells with a promise, outside the folder included', async () => {
    for (const key of ['webdir/0.html', 'webdir/9.html', 'webdir', '../outside.txt', 'link-out.txt', '../bucket-sibling/x.txt', 'a\0b', 'webdir/0.html/x']) {
      assert.deepEqual(store.statNow?.(key), await store.stat(key), key);
    }
  });

  it('reads in the same turn what get reads with a promise, outside the folder included, and leaves a large file to get', async () => {
    for (const key of ['webdir/0.html', 'webdir/9.html', 'webdir', '../outside.txt', 'link-out.txt', '../bucket-sibling/x.txt', 'a\0b', 'webdir/0.html/x']) {
      assert.deepEqual(store.getNow?.(key), await store.get(key), key);
    }
    await writeFile(join(bucket.root, 'large.bin'), Buffer.alloc(256 * 1024 + 1, 7));
    assert.equal(store.getNow?.('large.bin'), undefined, 'only get can tell');
    assert.equal((await store.get('large.bin'))?.body.length, 256 * 1024 + 1);
  });

  it('refuses a bucket folder that does not exist', async () => {
    await assert.rejects(createLocalDirStore({ root: join(bucket.parent, 'nope') }), (error) => isZonelabError(error, 'E_BUCKET_NOT_FOUND'));
  });
});

/** The store, with a count of the calls a cache makes to it. */
function countedCalls(local: ObjectStore): { counted: ObjectStore; calls: { stat: number; statNow: number; get: number; getNow: number } } {
  const calls = { stat: 0, statNow: 0, get: 0, getNow: 0 };
  const counted: ObjectStore = {
    ...local,
    stat: (key) => {
      calls.stat++;
      return local.stat(key);
    },
    statNow: (key) => {
      calls.statNow++;
      return local.statNow!(key);
    },
    get: (key) => {
      calls.get++;
      return local.get(key);
    },
    getNow: (key) => {
      calls.getNow++;
      return local.getNow!(key);
    },
  };
  return { counted, calls };
}

describe('cached store', () => {
  let bucket: TempBucket;
  before(async () => {
    bucket = await makeTempBucket(1);
  });
  after(() => bucket.remove());

  it('serves from memory, then picks up a changed object after revalidation', async (t) => {
    const file = join(bucket.root, 'page.html');
    await writeFile(file, 'version 1');
    const cached = createCachedStore(await createLocalDirStore({ root: bucket.root }), { maxBytes: 1 << 20, revalidateMs: 50 });
    t.after(() => cached.close());
    assert.equal((await cached.get('page.html'))?.body.toString(), 'version 1');
    await writeFile(file, 'version 2, longer');
    // A different mtime as well, whatever the file system's timestamp resolution.
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    // Stale-while-revalidate: the change shows once a background check has seen it.
    await waitFor(async () => (await cached.get('page.html'))?.body.toString() === 'version 2, longer', 3000, 'changed object served');
  });

  it('forgets an object deleted from the store', async (t) => {
    const file = join(bucket.root, 'gone.html');
    await writeFile(file, 'here');
    const cached = createCachedStore(await createLocalDirStore({ root: bucket.root }), { maxBytes: 1 << 20, revalidateMs: 20 });
    t.after(() => cached.close());
    assert.ok(await cached.get('gone.html'));
    await rm(file);
    await waitFor(async () => (await cached.get('gone.html')) === null, 3000, 'deleted object forgotten');
  });

  it('tells at once what it holds (an object, a remembered miss) and, in front of a store that cannot read in the turn, nothing it has not read', async (t) => {
    const file = join(bucket.root, 'held.html');
    await writeFile(file, 'held');
    const { getNow: _readsInTheTurn, ...promisesOnly } = await createLocalDirStore({ root: bucket.root });
    const cached = createCachedStore(promisesOnly, { maxBytes: 1 << 20, revalidateMs: 20 });
    t.after(() => cached.close());
    assert.equal(cached.held?.('held.html'), undefined, 'not read yet: only get can tell');
    assert.equal(cached.held?.('absent.html'), undefined);
    await cached.get('held.html');
    await cached.get('absent.html');
    assert.equal(cached.held?.('held.html')?.body.toString(), 'held');
    assert.equal(cached.held?.('absent.html'), null, 'a remembered miss');
    // A stale entry is still held, and its check in the background sees the change.
    await rm(file);
    await waitFor(() => cached.held?.('held.html') === null, 3000, 'deleted object forgotten through held');
  });

  it('checks a stale entry of a local folder in the same turn: no promise and no read while nothing changed', async (t) => {
    await writeFile(join(bucket.root, 'steady.html'), 'steady');
    const { counted, calls } = countedCalls(await createLocalDirStore({ root: bucket.root }));
    const cached = createCachedStore(counted, { maxBytes: 1 << 20, revalidateMs: 20 });
    t.after(() => cached.close());
    await cached.get('steady.html');
    await cached.get('none.html');
    // Staleness is what is tested: the period has to pass.
    await sleep(30);
    assert.equal(cached.held?.('steady.html')?.body.toString(), 'steady');
    assert.equal(cached.held?.('none.html'), null);
    assert.deepEqual(calls, { stat: 0, statNow: 2, get: 0, getNow: 2 }, 'each stale entry checked once, in the turn, and not read again');
    cached.held?.('steady.html');
    assert.equal(calls.statNow, 2, 'a checked entry is fresh again');
  });

  it('reads a miss of a local folder in the same turn and keeps it: no promise, one read', async (t) => {
    await writeFile(join(bucket.root, 'fresh.html'), 'fresh');
    const { counted, calls } = countedCalls(await createLocalDirStore({ root: bucket.root }));
    const cached = createCachedStore(counted, { maxBytes: 1 << 20 });
    t.after(() => cached.close());
    assert.equal(cached.held?.('fresh.html')?.body.toString(), 'fresh');
    assert.equal(cached.held?.('never.html'), null);
    assert.equal((await cached.get('fresh.html'))?.body.toString(), 'fresh');
    assert.equal(cached.held?.('never.html'), null);
    assert.deepEqual({ get: calls.get, getNow: calls.getNow }, { get: 0, getNow: 2 }, 'each key read once, in the turn');
  });

  it('leaves a miss whose read in the same turn fails to get, which reports it', async (t) => {
    const local = await createLocalDirStore({ root: bucket.root });
    const failing: ObjectStore = {
      ...local,
      getNow: () => {
        throw new Error('EIO');
      },
      get: async () => {
        throw new Error('EIO through get');
      },
    };
    const cached = createCachedStore(failing, { maxBytes: 1 << 20 });
    t.after(() => cached.close());
    assert.equal(cached.held?.('page.html'), undefined);
    await assert.rejects(cached.get('page.html'), /EIO through get/);
  });

  it('keeps serving a stale entry whose check in the same turn fails, and checks it again next time', async (t) => {
    await writeFile(join(bucket.root, 'kept.html'), 'kept');
    const local = await createLocalDirStore({ root: bucket.root });
    let checks = 0;
    const failing: ObjectStore = {
      ...local,
      statNow: () => {
        checks++;
        throw new Error('EIO');
      },
    };
    const cached = createCachedStore(failing, { maxBytes: 1 << 20, revalidateMs: 20 });
    t.after(() => cached.close());
    await cached.get('kept.html');
    await sleep(30);
    assert.equal(cached.held?.('kept.html')?.body.toString(), 'kept');
    assert.equal(cached.held?.('kept.html')?.body.toString(), 'kept');
    assert.equal(checks, 2);
  });

  it('creates a local or cached store from a --bucket value', async (t) => {
    assert.deepEqual(parseGcsUrl('gs://name/a/b/'), { bucket: 'name', prefix: 'a/b' });
    assert.equal(parseGcsUrl('./data/bucket'), null);
    const store = await createObjectStore(bucket.root, { cacheMb: 0 });
    t.after(() => store.close());
    assert.equal(store.bucketName, 'bucket');
  });
});

describe('cache size from the machine', () => {
  const MiB = 1024 * 1024;
  it('takes an eighth of the memory, at most 256 MiB, and says why; a number as given', () => {
    assert.deepEqual(resolveCacheSize('auto', 967 * MiB), { mb: 120, why: 'an eighth of 967 MiB of memory' });
    assert.deepEqual(resolveCacheSize('auto', 24 * 1024 * MiB), { mb: 256, why: 'the most by default (an eighth of 24576 MiB of memory is more)' });
    assert.deepEqual(resolveCacheSize(64), { mb: 64, why: '--cache-mb 64' });
    assert.equal(resolveCacheSize(0).mb, 0);
  });

  it('counts a cgroup limit below the machine, and ignores "no limit" (0, or more than the machine)', () => {
    assert.equal(availableMemoryBytes(512 * MiB), 512 * MiB);
    assert.equal(availableMemoryBytes(0), totalmem());
    assert.equal(availableMemoryBytes(2 ** 64), totalmem());
  });
});
