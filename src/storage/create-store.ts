import { resolveCacheSize } from './cache-size.js';
import { createCachedStore } from './cached-store.js';
import { createGcsStore } from './gcs.js';
import { createLocalDirStore } from './local-dir.js';
import type { ObjectStore } from './object-store.js';

export interface StoreSpecOptions {
  /** Memory for the cache in MiB (objects, missing keys, bookkeeping); 0 disables it. Default: `resolveCacheSize('auto')`. */
  cacheMb?: number;
  /** Milliseconds a cached object is served before it is revalidated. Default 30000. */
  revalidateMs?: number;
}

/** Splits `gs://name/some/prefix` into its bucket and prefix; `null` for a local path. */
export function parseGcsUrl(spec: string): { bucket: string; prefix: string } | null {
  const match = /^gs:\/\/([^/]+)\/?(.*)$/.exec(spec);
  if (!match) return null;
  return { bucket: match[1]!, prefix: match[2]!.replace(/\/+$/, '') };
}

/** The store a `--bucket` value names: a local folder, or `gs://bucket[/prefix]`, cached. */
export async function createObjectStore(spec: string, options: StoreSpecOptions = {}): Promise<ObjectStore> {
  const gcs = parseGcsUrl(spec);
  const store = gcs ? await createGcsStore(gcs) : await createLocalDirStore({ root: spec });
  const cacheMb = options.cacheMb ?? resolveCacheSize('auto').mb;
  if (cacheMb <= 0) return store;
  return createCachedStore(store, {
    maxBytes: Math.floor(cacheMb * 1024 * 1024),
    ...(options.revalidateMs !== undefined ? { revalidateMs: options.revalidateMs } : {}),
  });
}
