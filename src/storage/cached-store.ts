import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { ObjectMeta, ObjectStore, StoredObject } from './object-store.js';

export interface CachedStoreOptions {
  /** Memory the cache may take in all, in bytes: objects, missing keys and bookkeeping. */
  maxBytes: number;
  /**
   * How many missing keys are remembered at most; default 1024. Misses are remembered so a
   * hot 404 (a favicon, a stale link) costs the store one request per revalidation period,
   * but a flood of distinct missing paths must not fill memory, however long the paths are.
   */
  maxMisses?: number;
  /**
   * How long a cached object is served without asking the store whether it changed; default
   * 30000 ms. Each check costs a stat (local) or a metadata request (GCS), so with many hot
   * objects a short period turns into a steady stream of them.
   */
  revalidateMs?: number;
}

/** What one kind of entry holds, and since when it is known. */
interface Entry<T> {
  value: T;
  checkedAt: number;
}

/**
 * What an entry costs beyond its body and its key, in bytes: the cache's own node, the
 * entry, the object's metadata (ETag string, Date) and the response headers worked out once
 * per object. Measured with V8's heap statistics on 100,000 entries (about 650 bytes for a
 * small object, 190 for a miss, each before its key), rounded up.
 */
export const OBJECT_OVERHEAD_BYTES = 1024;
export const MISS_OVERHEAD_BYTES = 256;

// Keys longer than this are held by a digest instead (see `cacheKey`).
const LONGEST_KEPT_KEY = 64;

/**
 * The key an entry is held under: the object's key when short (the usual `webdir/7.html`),
 * else a SHA-256 digest of it after a NUL, which no valid key holds, so the two kinds
 * never meet. A long key would cost its whole length for as long as its entry lives; a
 * digest costs 23 characters, so what a client sends as a path (up to 8 KiB) decides
 * nothing about what the cache holds, and the byte bound keeps its entries for objects.
 */
export function cacheKey(key: string): string {
  return key.length <= LONGEST_KEPT_KEY ? key : `\0${createHash('sha256').update(key).digest('base64url').slice(0, 22)}`;
}

/**
 * A held key's cost in memory: V8 keeps a string in one byte per character when every
 * character fits (Latin-1), else in two; two is the bound whatever the key holds.
 */
function keyBytes(key: string): number {
  return key.length * 2;
}

/** What an object entry is charged: what it really costs, its held key included. */
export function objectEntryBytes(key: string, object: StoredObject): number {
  return object.body.length + keyBytes(key) + object.meta.etag.length * 2 + OBJECT_OVERHEAD_BYTES;
}

/** What a remembered miss is charged. */
export function missEntryBytes(key: string): number {
  return keyBytes(key) + MISS_OVERHEAD_BYTES;
}

/**
 * A byte-bounded LRU in front of another store. Fresh entries are served from memory
 * without waiting on anything; a stale entry is still served at once while its metadata
 * is checked in the background (stale-while-revalidate), and is replaced only when its
 * ETag changed. Missing objects are remembered in an LRU of their own, bounded by count
 * and by an eighth of the bytes, so a new object shows within one revalidation period and
 * a flood of distinct missing paths evicts only other misses. Concurrent misses of one key
 * share one read. When the store is failing, stale entries keep being served; only misses
 * see the failure.
 */
export function createCachedStore(store: ObjectStore, options: CachedStoreOptions): ObjectStore {
  const revalidateMs = options.revalidateMs ?? 30_000;
  const missBytes = Math.max(1, Math.floor(options.maxBytes / 8));
  const objects = new LRUCache<string, Entry<StoredObject>>({
    maxSize: Math.max(1, options.maxBytes - missBytes),
    // One object may take at most an eighth of the cache, so a few large objects cannot
    // flush every page.
    maxEntrySize: Math.max(1, Math.floor(options.maxBytes / 8)),
    sizeCalculation: (entry, key) => objectEntryBytes(key, entry.value),
  });
  const maxMisses = Math.max(1, options.maxMisses ?? 1024);
  const misses = new LRUCache<string, Entry<null>>({
    max: maxMisses,
    maxSize: missBytes,
    sizeCalculation: (_entry, key) => missEntryBytes(key),
  });
  const inFlight = new Map<string, Promise<StoredObject | null>>();

  function remember(key: string, object: StoredObject | null): void {
    const checkedAt = performance.now();
    key = cacheKey(key);
    if (object === null) {
      objects.delete(key);
      misses.set(key, { value: null, checkedAt });
    } else {
      misses.delete(key);
      objects.set(key, { value: object, checkedAt });
    }
  }

  function load(key: string, stale: Entry<StoredObject | null> | undefined): Promise<StoredObject | null> {
    let pending = inFlight.get(key);
    if (pending) return pending;
    pending = (async () => {
      try {
        if (stale?.value) {
          const meta = await store.stat(key);
          if (meta !== null && meta.etag === stale.value.meta.etag) {
            stale.checkedAt = performance.now();
            return stale.value;
          }
        }
        const object = await store.get(key);
        remember(key, object);
        return object;
      } finally {
        inFlight.delete(key);
      }
    })();
    inFlight.set(key, pending);
    return pending;
  }

  // A stale entry checked in this turn, for a store that can (see `statNow`): only a
  // change costs a promise, the read of the new object or of its absence.
  function checkNow(key: string, entry: Entry<StoredObject | null>, statNow: (key: string) => ObjectMeta | null): void {
    let meta: ObjectMeta | null;
    try {
      meta = statNow(key);
    } catch {
      return; // a failed check leaves the entry to be tried again next time
    }
    const unchanged = entry.value === null ? meta === null : meta !== null && meta.etag === entry.value.meta.etag;
    if (unchanged) entry.checkedAt = performance.now();
    else load(key, undefined).catch(() => {});
  }

  // A miss read in this turn, for a store that can (see `getNow`); a failure is left to
  // `get`, which reports it.
  function readNow(key: string, getNow: (key: string) => StoredObject | null | undefined): StoredObject | null | undefined {
    let object: StoredObject | null | undefined;
    try {
      object = getNow(key);
    } catch {
      return undefined;
    }
    if (object !== undefined) remember(key, object);
    return object;
  }

  /** The entry's value when one is held (a stale one starts its check), else what a store that can reads in the turn, else undefined. */
  function held(key: string): StoredObject | null | undefined {
    const kept = cacheKey(key);
    const entry: Entry<StoredObject | null> | undefined = objects.get(kept) ?? misses.get(kept);
    if (entry === undefined) return store.getNow && !inFlight.has(key) ? readNow(key, store.getNow) : undefined;
    if (performance.now() - entry.checkedAt > revalidateMs && !inFlight.has(key)) {
      // Serve what we have; a failed check leaves the entry to be tried again next time.
      if (store.statNow) checkNow(key, entry, store.statNow);
      else load(key, entry).catch(() => {});
    }
    return entry.value;
  }

  async function get(key: string): Promise<StoredObject | null> {
    const value = held(key);
    return value === undefined ? load(key, undefined) : value;
  }

  return {
    bucketName: store.bucketName,
    location: store.location,
    stat: async (key) => (await get(key))?.meta ?? null,
    get,
    held,
    stats: () => ({
      cacheBytes: objects.calculatedSize + misses.calculatedSize,
      cacheMaxBytes: options.maxBytes,
      cachedObjects: objects.size,
      cachedMisses: misses.size,
      cacheMaxMisses: maxMisses,
      cachedMissBytes: misses.calculatedSize,
      cacheMaxMissBytes: missBytes,
    }),
    close: async () => {
      objects.clear();
      misses.clear();
      await store.close();
    },
  };
}
