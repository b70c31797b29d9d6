import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CRC32C } from '@google-cloud/storage';

interface StandInObject {
  body: Buffer;
  generation: number;
  contentType: string;
  updated: Date;
}

/**
 * A stand-in for the Cloud Storage JSON API on loopback (not Google's service): enough
 * of it for the client library's bucket metadata, object metadata and listing, media
 * download and multipart upload, reached through STORAGE_EMULATOR_HOST. Objects, failures
 * and delays are set by tests.
 */
export interface GcsStandIn {
  /** The value for STORAGE_EMULATOR_HOST. */
  readonly endpoint: string;
  readonly requests: string[];
  /** Names of the stored objects. */
  names(): string[];
  get(name: string): Buffer | undefined;
  put(name: string, body: string | Buffer, contentType?: string): void;
  remove(name: string): void;
  /** Every request answers this status (e.g. 500) while set. */
  failWith: number | null;
  /**
   * Permissions the caller holds (`storage.objects.get`, …), checked as Cloud Storage does:
   * a request needing another one answers 403 naming it. null: every permission.
   */
  granted: Set<string> | null;
  /**
   * A grant on its way, as IAM's propagation delay makes it: every request that needs a
   * permission is refused (403) until this many ms after the first such request. 0: none.
   */
  grantDelayMs: number;
  /** Requests refused while the grant was on its way. */
  refusedBeforeGrant: number;
  /** Media downloads of these objects are delayed by the given ms. */
  delays: Map<string, number>;
  close(): Promise<void>;
}

function crc32cOf(body: Buffer): string {
  const crc = new CRC32C();
  crc.update(body);
  return crc.toString();
}

/** The IAM permission a JSON API request needs (https://cloud.google.com/storage/docs/access-control/iam-json). */
function permissionFor(method: string, pathname: string): string | null {
  const path = pathname.replace(/^\/(upload|download)/, '').replace(/^\/storage\/v1/, '');
  if (method === 'POST' && /^\/b\/[^/]+\/o$/.test(path)) return 'storage.objects.create';
  if (/^\/b\/[^/]+$/.test(path)) return 'storage.buckets.get';
  if (/^\/b\/[^/]+\/o$/.test(path)) return 'storage.objects.list';
  if (/^\/b\/[^/]+\/o\/.+$/.test(path)) return method === 'DELETE' ? 'storage.objects.delete' : 'storage.objects.get';
  return null;
}

export async function startGcsStandIn(bucketName: string): Promise<GcsStandIn> {
  const objects = new Map<string, StandInObject>();
  let generation = 1_700_000_000_000_000;
  const requests: string[] = [];

  function json(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }
  function notFound(res: ServerResponse) {
    json(res, 404, { error: { code: 404, message: 'No such object', errors: [{ reason: 'notFound' }] } });
  }

  const standIn: GcsStandIn = {
    endpoint: '',
    requests,
    names: () => [...objects.keys()].sort(),
    get: (name) => objects.get(name)?.body,
    failWith: null,
    granted: null,
    grantDelayMs: 0,
    refusedBeforeGrant: 0,
    delays: new Map(),
    put(name, body, contentType = 'text/html') {
      objects.set(name, { body: Buffer.from(body), generation: ++generation, contentType, updated: new Date() });
    },
    remove(name) {
      objects.delete(name);
    },
    close: async () => {},
  };

  function metadataOf(name: string, object: StandInObject) {
    return {
      kind: 'storage#object',
      name,
      bucket: bucketName,
      generation: String(object.generation),
      size: String(object.body.length),
      contentType: object.contentType,
      updated: object.updated.toISOString(),
      md5Hash: createHash('md5').update(object.body).digest('base64'),
      crc32c: crc32cOf(object.body),
    };
  }

  // A multipart/related upload: a JSON part with the object's metadata, then its bytes.
  function storeMultipart(req: IncomingMessage, query: URLSearchParams, body: Buffer, res: ServerResponse) {
    const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1];
    if (!boundary) return json(res, 400, { error: { code: 400, message: 'not multipart' } });
    const parts = body.toString('latin1').split(`--${boundary}`).slice(1, -1);
    const [meta, media] = parts.map((part) => part.slice(part.indexOf('\r\n\r\n') + 4, -2));
    if (meta === undefined || media === undefined) return json(res, 400, { error: { code: 400, message: 'two parts expected' } });
    const fields = JSON.parse(meta) as { name?: string; contentType?: string };
    const name = fields.name ?? query.get('name');
    if (!name) return json(res, 400, { error: { code: 400, message: 'no object name' } });
    const contentType = fields.contentType;
    objects.set(name, { body: Buffer.from(media, 'latin1'), generation: ++generation, contentType: contentType ?? 'application/octet-stream', updated: new Date() });
    json(res, 200, metadataOf(name, objects.get(name)!));
  }

  let firstAskedAt: number | null = null;
  function grantArriving(): boolean {
    if (standIn.grantDelayMs <= 0) return false;
    firstAskedAt ??= Date.now();
    return Date.now() - firstAskedAt < standIn.grantDelayMs;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (standIn.failWith !== null) {
      json(res, standIn.failWith, { error: { code: standIn.failWith, message: 'stand-in failure' } });
      return;
    }
    const permission = permissionFor(req.method ?? 'GET', url.pathname);
    const arriving = permission !== null && grantArriving();
    if (arriving) standIn.refusedBeforeGrant++;
    if (permission !== null && (arriving || (standIn.granted !== null && !standIn.granted.has(permission)))) {
      const message = `stand-in@zonelab-test.iam.gserviceaccount.com does not have ${permission} access to the Google Cloud Storage bucket. Permission '${permission}' denied on resource (or it may not exist).`;
      json(res, 403, { error: { code: 403, message, errors: [{ message, domain: 'global', reason: 'forbidden' }] } });
      return;
    }
    if (req.method === 'POST' && url.pathname === `/upload/storage/v1/b/${bucketName}/o`) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => storeMultipart(req, url.searchParams, Buffer.concat(chunks), res));
      return;
    }
    const path = url.pathname.replace(/^\/storage\/v1/, '').replace(/^\/download\/storage\/v1/, '');
    if (path === `/b/${bucketName}/o`) {
      const prefix = url.searchParams.get('prefix') ?? '';
      const max = Number(url.searchParams.get('maxResults') ?? 1000);
      const items = [...objects].filter(([name]) => name.startsWith(prefix)).slice(0, max).map(([name, object]) => metadataOf(name, object));
      return json(res, 200, { kind: 'storage#objects', items });
    }
    const match = /^\/b\/([^/]+)(?:\/o\/(.+))?$/.exec(path);
    if (!match || decodeURIComponent(match[1]!) !== bucketName) return notFound(res);
    if (match[2] === undefined) return json(res, 200, { kind: 'storage#bucket', name: bucketName, id: bucketName });
    const name = decodeURIComponent(match[2]);
    const object = objects.get(name);
    if (!object) return notFound(res);
    if (url.searchParams.get('alt') !== 'media') return json(res, 200, metadataOf(name, object));
    const send = () => {
      res.writeHead(200, {
        'Content-Type': object.contentType,
        'Content-Length': object.body.length,
        'x-goog-generation': String(object.generation),
        'x-goog-hash': `md5=${createHash('md5').update(object.body).digest('base64')}`,
      });
      res.end(object.body);
    };
    const delay = standIn.delays.get(name);
    if (delay) setTimeout(send, delay);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(standIn, {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return standIn;
}
