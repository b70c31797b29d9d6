export { createCachedStore, type CachedStoreOptions } from './cached-store.js';
export { createObjectStore, parseGcsUrl, type StoreSpecOptions } from './create-store.js';
export { createGcsStore, type GcsStoreOptions } from './gcs.js';
export { createLocalDirStore, type LocalDirStoreOptions } from './local-dir.js';
export { type ObjectMeta, type ObjectStore, STORAGE_UNAVAILABLE, type StoredObject } from './object-store.js';
export { uploadFolder, type UploadOptions, type UploadResult } from './upload.js';
