import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetadataAnswers {
  /** `instance/zone`, as GCE gives it: `projects/<number>/zones/<zone>`. */
  zone?: string;
  /** `instance/name`. */
  name?: string;
  /** `instance/attributes/<key>` (a startup script, zonelab's attributes, …). */
  attributes?: Record<string, string>;
  /** `project/project-id`. */
  project?: string;
  /** Never answer (to test the time limit). */
  silent?: boolean;
  /**
   * Leave requests for `instance/zone` or `instance/name` unanswered until this many ms after
   * the stand-in started, then answer at once (a metadata server slow while a VM boots).
   */
  lateMs?: { zone?: number; name?: number };
}

export interface MetadataStandIn {
  /** host:port, the value for GCE_METADATA_HOST. */
  host: string;
  requests: { path: string; flavor: string | undefined }[];
  close(): Promise<void>;
}

/**
 * A stand-in for the GCE metadata server (not Google's): the instance's zone, name and
 * attributes, the project ID, and a service-account token, each only to requests that
 * carry `Metadata-Flavor: Google` (others get 403, as from the real one), every answer
 * with that header back. Listens on 127.0.0.1 and a free port, or where `listen` says (a
 * box resolves metadata.google.internal to it, on port 80 like the real one).
 */
export async function startMetadataStandIn(answers: MetadataAnswers, listen: { host: string; port: number } = { host: '127.0.0.1', port: 0 }): Promise<MetadataStandIn> {
  const requests: { path: string; flavor: string | undefined }[] = [];
  const startedAt = performance.now();
  const values = (path: string): string | undefined => {
    if (path === 'instance/zone') return answers.zone;
    if (path === 'instance/name') return answers.name;
    if (path === 'project/project-id') return answers.project;
    if (path === 'instance/service-accounts/default/email') return answers.project ? `zonelab-vms@${answers.project}.iam.gserviceaccount.com` : undefined;
    if (path === 'instance/service-accounts/default/token') {
      return JSON.stringify({ access_token: 'stand-in-token-not-a-real-one', expires_in: 3599, token_type: 'Bearer' });
    }
    if (path === 'instance' || path === 'instance/') return 'attributes/\nname\nzone\n';
    if (path.startsWith('instance/attributes/')) return answers.attributes?.[path.slice('instance/attributes/'.length)];
    return undefined;
  };
  const server: Server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', flavor: req.headers['metadata-flavor'] as string | undefined });
    if (answers.silent) return;
    const path = (req.url ?? '').split('?')[0]!.replace(/^\/computeMetadata\/v1\//, '');
    const lateMs = path === 'instance/zone' ? answers.lateMs?.zone : path === 'instance/name' ? answers.lateMs?.name : undefined;
    if (lateMs !== undefined && performance.now() - startedAt < lateMs) return;
    if (req.headers['metadata-flavor'] !== 'Google') {
      res.writeHead(403, { 'Metadata-Flavor': 'Google' }).end('Missing Metadata-Flavor:Google header.\n');
      return;
    }
    const value = values(path);
    if (value === undefined) {
      res.writeHead(404, { 'Metadata-Flavor': 'Google' }).end();
      return;
    }
    const json = path.endsWith('/token');
    res.writeHead(200, { 'Metadata-Flavor': 'Google', 'Content-Type': json ? 'application/json' : 'application/text' }).end(value);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `${listen.host}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
