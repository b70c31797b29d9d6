import { LRUCache } from 'lru-cache';
import type { ObjectStore, StoredObject } from './object-store.js';

export interface CachedStoreOptions {
  /** Total bytes of object bodies kept in memory. */
  maxBytes: number;
  /** How long a cached object is served without asking the store whether it changed; default 2000 ms. */
  revalidateMs?: number;
}

// Bookkeeping bytes charged per entry on top of the body, so many tiny objects still count.
const ENTRY_OVERHEAD_BYTES = 256;

/**
 * A byte-bounded LRU in front of another store. Fresh entries are served from memory; a
 * stale entry is still served at once while its metadata is checked in the background
 * (stale-while-revalidate), and is replaced only when its ETag changed. When the store is
 * failing, stale entries keep being served; only misses see the failure.
 */
export function createCachedStore(store: ObjectStore, options: CachedStoreOptions): ObjectStore {
  const cache = new LRUCache<string, StoredObject>({
    maxSize: options.maxBytes,
    // One object may take at most an eighth of the cache, so a few large objects cannot
    // flush every page.
    maxEntrySize: Math.max(1, Math.floor(options.maxBytes / 8)),
    sizeCalculation: (object) => object.body.length + ENTRY_OVERHEAD_BYTES,
    ttl: options.revalidateMs ?? 2000,
    allowStale: true,
    noDeleteOnStaleGet: true,
    allowStaleOnFetchRejection: true,
    noDeleteOnFetchRejection: true,
    fetchMethod: async (key, stale) => {
      if (stale) {
        const meta = await store.stat(key);
        if (meta === null) return undefined; // deleted from the store: forget it
        if (meta.etag === stale.meta.etag) return stale;
      }
      return (await store.get(key)) ?? undefined;
    },
  });

  return {
    bucketName: store.bucketName,
    location: store.location,
    stat: async (key) => (await cache.fetch(key))?.meta ?? null,
    get: async (key) => (await cache.fetch(key)) ?? null,
    close: async () => {
      cache.clear();
      await store.close();
    },
  };
}
