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
  get(key: string): Promise<StoredObject | null>;
  /** What a cache in front of the store holds (for /healthz); absent without a cache. */
  stats?(): CacheStats;
  close(): Promise<void>;
}

export const STORAGE_UNAVAILABLE = 'E_STORAGE_UNAVAILABLE';
