import { ZonelabError } from '../errors.js';
import { type ObjectMeta, type ObjectStore, STORAGE_UNAVAILABLE, storedObject } from './object-store.js';

export interface GcsStoreOptions {
  /** Bucket name, without `gs://`. */
  bucket: string;
  /** Object-name prefix the keys live under (`site/` for `gs://bucket/site`); default none. */
  prefix?: string;
  /** Per-request timeout towards Cloud Storage; default 5000 ms. */
  timeoutMs?: number;
}

type StorageModule = typeof import('@google-cloud/storage');

// A web server must answer within seconds: a failing Cloud Storage becomes a 503 quickly
// instead of the library's default of retrying for up to ten minutes.
const RETRY_OPTIONS = { autoRetry: true, maxRetries: 1, maxRetryDelay: 1, totalTimeout: 5 };

function httpStatusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * An `ObjectStore` over a Cloud Storage bucket. The client library is imported here, only
 * when a `gs://` bucket is used. Honours `STORAGE_EMULATOR_HOST` (the library does).
 * Checks at construction that the bucket exists and is readable.
 */
export async function createGcsStore(options: GcsStoreOptions): Promise<ObjectStore> {
  if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(options.bucket)) {
    throw new ZonelabError('E_BAD_BUCKET', `"${options.bucket}" is not a valid Cloud Storage bucket name`);
  }
  const prefix = options.prefix ? `${options.prefix.replace(/^\/+|\/+$/g, '')}/` : '';
  let storageModule: StorageModule;
  try {
    storageModule = await import('@google-cloud/storage');
  } catch (error) {
    throw new ZonelabError('E_GCS_UNAVAILABLE', 'the @google-cloud/storage package is not installed', { cause: error });
  }
  const storage = new storageModule.Storage({ retryOptions: RETRY_OPTIONS, timeout: options.timeoutMs ?? 5000 });
  const bucket = storage.bucket(options.bucket);
  const location = `gs://${options.bucket}${prefix ? `/${prefix.slice(0, -1)}` : ''}`;

  function unavailable(key: string, error: unknown): ZonelabError {
    return new ZonelabError(STORAGE_UNAVAILABLE, `cannot read ${key} from ${location}`, { cause: error });
  }

  // Listing one object proves the bucket is there and readable with the permission reading
  // needs anyway (storage.objects.list, in roles/storage.objectViewer). bucket.exists()
  // would need storage.buckets.get, which that role does not grant.
  try {
    await bucket.getFiles({ maxResults: 1, autoPaginate: false, ...(prefix ? { prefix } : {}) });
  } catch (error) {
    const status = httpStatusOf(error);
    if (status === 404) throw new ZonelabError('E_BUCKET_NOT_FOUND', `bucket ${location} does not exist`, { cause: error });
    if (status === 403) {
      throw new ZonelabError(
        'E_PERMISSION_DENIED',
        `the credentials in use lack storage.objects.list on gs://${options.bucket} (grant roles/storage.objectViewer on the bucket; zonelab gcp up does so for its VMs)`,
        { cause: error },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    if (/credentials|authenticat/i.test(message)) {
      throw new ZonelabError(
        'E_GCS_CREDENTIALS',
        `no Google Cloud credentials to read ${location} (run "gcloud auth application-default login" or run on a VM with a service account)`,
        { cause: error },
      );
    }
    throw new ZonelabError('E_STORAGE_UNAVAILABLE', `cannot reach ${location}: ${message}`, { cause: error });
  }

  async function stat(key: string): Promise<(ObjectMeta & { generation: string }) | null> {
    try {
      const [metadata] = await bucket.file(prefix + key).getMetadata();
      const generation = String(metadata.generation ?? metadata.etag ?? '');
      return {
        size: Number(metadata.size ?? 0),
        // The generation changes with every overwrite of the content (and only then).
        etag: `"${generation}"`,
        lastModified: new Date(String(metadata.updated ?? metadata.timeCreated ?? 0)),
        ...(metadata.contentType ? { contentType: metadata.contentType } : {}),
        generation,
      };
    } catch (error) {
      if (httpStatusOf(error) === 404) return null;
      throw unavailable(key, error);
    }
  }

  return {
    bucketName: options.bucket,
    location,
    stat: async (key) => {
      const meta = await stat(key);
      if (meta === null) return null;
      const { generation: _generation, ...plain } = meta;
      return plain;
    },
    get: async (key) => {
      const found = await stat(key);
      if (found === null) return null;
      const { generation, ...meta } = found;
      try {
        // Ask for the generation just described, so body and metadata always match.
        const file = bucket.file(prefix + key, generation ? { generation: Number(generation) } : {});
        const [body] = await file.download();
        return storedObject({ ...meta, size: body.length }, body);
      } catch (error) {
        if (httpStatusOf(error) === 404) return null;
        throw unavailable(key, error);
      }
    },
    close: async () => {},
  };
}
