/** What a store knows about one object without reading it. */
export interface ObjectMeta {
  /** Bytes. */
  size: number;
  /** A strong validator that changes whenever the content changes, quoted as in HTTP. */
  etag: string;
  lastModified: Date;
  /** The store's own content type, when it keeps one (GCS does); else derived from the name. */
  contentType?: string;
}

export interface StoredObject {
  meta: ObjectMeta;
  body: Buffer;
  /**
   * What a reader works out from the object and keeps for as long as the object is kept
   * (the server's answers for it). Set by the reader, never by a store; a changed object
   * is a new StoredObject, so nothing derived outlives what it was derived from.
   */
  derived?: unknown;
}

/**
 * A StoredObject as stores make it: the `derived` slot is there from the start, so a busy
 * server reading it finds it inside the object rather than in a property store allocated
 * when it was first set: one memory access fewer per request, and over 10,000 cached
 * pages most such accesses miss the processor's caches.
 */
export function storedObject(meta: ObjectMeta, body: Buffer): StoredObject {
  return { meta, body, derived: undefined };
}

/** What a cache holds, in the units its bounds are in. */
export interface CacheStats {
  /** Bytes charged for everything held, against the cache's size. */
  cacheBytes: number;
  cacheMaxBytes: number;
  cachedObjects: number;
  /** Missing keys remembered, against `cacheMaxMisses`, and the bytes they are charged, against `cacheMaxMissBytes`. */
  cachedMisses: number;
  cacheMaxMisses: number;
  cachedMissBytes: number;
  cacheMaxMissBytes: number;
}

/**
 * A read-only bucket of objects addressed by slash-separated keys (`webdir/7.html`).
 * Keys reaching a store are already validated (no empty, `.` or `..` segments, no NUL or
 * backslash); stores still refuse anything that would leave the bucket.
 * Missing objects are `null`; any other failure throws `ZonelabError` `E_STORAGE_UNAVAILABLE`.
 */
export interface ObjectStore {
  /** The bucket's name: the folder's basename, or the GCS bucket's name. */
  readonly bucketName: string;
  /** Human-readable location for logs (`./data/bucket`, `gs://name/prefix`). */
  readonly location: string;
  stat(key: string): Promise<ObjectMeta | null>;
  /**
   * `stat` answered in the same turn, offered only by a store for which that is cheaper than
   * the promise (a local folder: the kernel answers from its cache in microseconds). Throws
   * what `stat` rejects with. A cache checks its stale entries with it.
   */
  statNow?(key: string): ObjectMeta | null;
  get(key: string): Promise<StoredObject | null>;
  /**
   * `get` answered in the same turn, offered only by a store for which that is cheaper than
   * the promise (a local folder's small files); `undefined` when only `get` can tell (a file
   * too large to read at once). Throws what `get` rejects with. A cache reads its misses
   * with it.
   */
  getNow?(key: string): StoredObject | null | undefined;
  /**
   * What a cache in front of the store holds for `key` at once, without a promise: the
   * object, `null` for a miss it remembers, `undefined` when only `get` can tell (a key it
   * does not hold, unless the store can read it in the turn: see `getNow`). The
   * server answers a held key in the same turn it read the request (a promise per request
   * costs a busy server a fifth of its rate); the cache's rules for stale entries apply as
   * in `get`. Absent without a cache.
   */
  held?(key: string): StoredObject | null | undefined;
  /** What a cache in front of the store holds (for /healthz); absent without a cache. */
  stats?(): CacheStats;
  close(): Promise<void>;
}

export const STORAGE_UNAVAILABLE = 'E_STORAGE_UNAVAILABLE';
