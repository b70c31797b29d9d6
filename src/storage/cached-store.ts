import { LRUCache } from 'lru-cache';
import type { ObjectStore, StoredObject } from './object-store.js';

export interface CachedStoreOptions {
  /** Total bytes of object bodies kept in memory. */
  maxBytes: number;
  /**
   * How long a cached object is served without asking the store whether it changed; default
   * 30000 ms. Each check costs a stat (local) or a metadata request (GCS), so with many hot
   * objects a short period turns into a steady stream of them.
   */
  revalidateMs?: number;
}

interface Entry {
  /** `null`: the store said there is no such object (remembered like the rest). */
  object: StoredObject | null;
  checkedAt: number;
}

// Bookkeeping bytes charged per entry on top of the body, so many tiny objects still count.
const ENTRY_OVERHEAD_BYTES = 256;

/**
 * A byte-bounded LRU in front of another store. Fresh entries are served from memory
 * without waiting on anything; a stale entry is still served at once while its metadata
 * is checked in the background (stale-while-revalidate), and is replaced only when its
 * ETag changed. Missing objects are remembered the same way, so a new object shows within
 * one revalidation period. Concurrent misses of one key share one read. When the store
 * is failing, stale entries keep being served; only misses see the failure.
 */
export function createCachedStore(store: ObjectStore, options: CachedStoreOptions): ObjectStore {
  const revalidateMs = options.revalidateMs ?? 30_000;
  const cache = new LRUCache<string, Entry>({
    maxSize: options.maxBytes,
    // One object may take at most an eighth of the cache, so a few large objects cannot
    // flush every page.
    maxEntrySize: Math.max(1, Math.floor(options.maxBytes / 8)),
    sizeCalculation: (entry) => (entry.object?.body.length ?? 0) + ENTRY_OVERHEAD_BYTES,
  });
  const inFlight = new Map<string, Promise<StoredObject | null>>();

  function load(key: string, stale: Entry | undefined): Promise<StoredObject | null> {
    let pending = inFlight.get(key);
    if (pending) return pending;
    pending = (async () => {
      try {
        if (stale?.object) {
          const meta = await store.stat(key);
          if (meta !== null && meta.etag === stale.object.meta.etag) {
            stale.checkedAt = performance.now();
            return stale.object;
          }
        }
        const object = await store.get(key);
        cache.set(key, { object, checkedAt: performance.now() });
        return object;
      } finally {
        inFlight.delete(key);
      }
    })();
    inFlight.set(key, pending);
    return pending;
  }

  async function get(key: string): Promise<StoredObject | null> {
    const entry = cache.get(key);
    if (entry === undefined) return load(key, undefined);
    if (performance.now() - entry.checkedAt > revalidateMs) {
      // Serve what we have; a failed check leaves the entry to be tried again next time.
      load(key, entry).catch(() => {});
    }
    return entry.object;
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
