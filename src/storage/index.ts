export { createCachedStore, type CachedStoreOptions } from './cached-store.js';
export { availableMemoryBytes, type CacheSize, MAX_DEFAULT_CACHE_MB, resolveCacheSize } from './cache-size.js';
export { createObjectStore, parseGcsUrl, type StoreSpecOptions } from './create-store.js';
export { createGcsStore, type GcsStoreOptions } from './gcs.js';
export { createLocalDirStore, type LocalDirStoreOptions } from './local-dir.js';
export { type CacheStats, type ObjectMeta, type ObjectStore, STORAGE_UNAVAILABLE, type StoredObject } from './object-store.js';
export { uploadFolder, type UploadOptions, type UploadResult } from './upload.js';
