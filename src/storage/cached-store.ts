import { LRUCache } from 'lru-cache';
import type { ObjectStore, StoredObject } from './object-store.js';

export interface CachedStoreOptions {
  /** Total bytes of object bodies kept in memory. */
  maxBytes: number;
  /** How long a cached object is served without asking the store whether it changed; default 2000 ms. */
  revalidateMs?: number;
}

// "No such object" is cached too (and revalidated like the rest): the cache library keeps
// a stale value when a fetch yields nothing, so a deletion needs a value of its own.
const MISSING = Symbol('missing');
type CacheEntry = StoredObject | typeof MISSING;

// Bookkeeping bytes charged per entry on top of the body, so many tiny objects still count.
const ENTRY_OVERHEAD_BYTES = 256;

/**
 * A byte-bounded LRU in front of another store. Fresh entries are served from memory; a
 * stale entry is still served at once while its metadata is checked in the background
 * (stale-while-revalidate), and is replaced only when its ETag changed. Missing objects are
 * remembered the same way, so a new object shows within one revalidation period. When the
 * store is failing, stale entries keep being served; only misses see the failure.
 */
export function createCachedStore(store: ObjectStore, options: CachedStoreOptions): ObjectStore {
  const cache = new LRUCache<string, CacheEntry>({
    maxSize: options.maxBytes,
    // One object may take at most an eighth of the cache, so a few large objects cannot
    // flush every page.
    maxEntrySize: Math.max(1, Math.floor(options.maxBytes / 8)),
    sizeCalculation: (entry) => (entry === MISSING ? 0 : entry.body.length) + ENTRY_OVERHEAD_BYTES,
    ttl: options.revalidateMs ?? 2000,
    allowStale: true,
    noDeleteOnStaleGet: true,
    allowStaleOnFetchRejection: true,
    noDeleteOnFetchRejection: true,
    fetchMethod: async (key, stale) => {
      if (stale && stale !== MISSING) {
        const meta = await store.stat(key);
        if (meta === null) return MISSING;
        if (meta.etag === stale.meta.etag) return stale;
      }
      return (await store.get(key)) ?? MISSING;
    },
  });

  async function get(key: string): Promise<StoredObject | null> {
    const entry = await cache.fetch(key);
    return entry === undefined || entry === MISSING ? null : entry;
  }

  return {
    bucketName: store.bucketName,
    location: store.location,
    stat: async (key) => (await get(key))?.meta ?? null,
    get,
    close: async () => {
      cache.clear();
      await store.close();
    },
  };
}
