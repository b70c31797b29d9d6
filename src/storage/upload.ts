import { readdir, readFile, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import mime from 'mime-types';
import { ZonelabError } from '../errors.js';
import { parseGcsUrl } from './create-store.js';

export interface UploadOptions {
  /** Local folder; its files keep their relative paths as object names. */
  from: string;
  /** `gs://bucket[/prefix]`. */
  to: string;
  /** Upload nothing when the destination already holds an object. */
  ifEmpty?: boolean;
  /** Uploads in flight at once. */
  concurrency?: number;
  onProgress?: (uploaded: number, total: number) => void;
  signal?: AbortSignal;
}

export interface UploadResult {
  uploaded: number;
  bytes: number;
  /** True when `ifEmpty` found objects and nothing was uploaded. */
  skipped: boolean;
}

function failure(location: string, error: unknown): ZonelabError {
  const message = error instanceof Error ? error.message : String(error);
  if (/credentials|authenticat/i.test(message)) {
    return new ZonelabError('E_GCS_CREDENTIALS', `no Google Cloud credentials to write ${location} (run "gcloud auth application-default login")`, { cause: error });
  }
  const status = (error as { code?: unknown }).code;
  if (status === 404) return new ZonelabError('E_BUCKET_NOT_FOUND', `bucket ${location} does not exist`, { cause: error });
  return new ZonelabError('E_UPLOAD', `cannot write ${location}: ${message}`, { cause: error });
}

/**
 * Copies a local folder (a generated bucket) to Cloud Storage with the official client
 * library, several files at a time. Honours STORAGE_EMULATOR_HOST.
 */
export async function uploadFolder(options: UploadOptions): Promise<UploadResult> {
  const target = parseGcsUrl(options.to);
  if (!target) throw new ZonelabError('E_BAD_ARGUMENT', `--to "${options.to}" is not a gs://bucket[/prefix] URL`);
  const info = await stat(options.from).catch(() => null);
  if (!info?.isDirectory()) throw new ZonelabError('E_BAD_ARGUMENT', `--from "${options.from}" is not a folder`);
  const entries = await readdir(options.from, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  const prefix = target.prefix ? `${target.prefix}/` : '';
  const { Storage } = await import('@google-cloud/storage');
  const bucket = new Storage().bucket(target.bucket);
  const location = `gs://${target.bucket}${target.prefix ? `/${target.prefix}` : ''}`;

  if (options.ifEmpty) {
    try {
      const [existing] = await bucket.getFiles({ maxResults: 1, autoPaginate: false, ...(prefix ? { prefix } : {}) });
      if (existing.length > 0) return { uploaded: 0, bytes: 0, skipped: true };
    } catch (error) {
      throw failure(location, error);
    }
  }

  let next = 0;
  let uploaded = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < files.length) {
      if (options.signal?.aborted) throw new ZonelabError('E_INTERRUPTED', `interrupted after ${uploaded} of ${files.length} files`);
      const path = files[next++]!;
      const relative = path.slice(options.from.replace(/\/+$/, '').length + 1).split(sep).join('/');
      const body = await readFile(path);
      try {
        await bucket.file(prefix + relative).save(body, {
          resumable: false,
          contentType: mime.lookup(relative) || 'application/octet-stream',
        });
      } catch (error) {
        throw failure(`${location}/${relative}`, error);
      }
      uploaded++;
      bytes += body.length;
      options.onProgress?.(uploaded, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 16, Math.max(files.length, 1)) }, worker));
  return { uploaded, bytes, skipped: false };
}
