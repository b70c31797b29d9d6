import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the GCE metadata server on loopback (not Google's): answers
 * `instance/zone` and `instance/name` with `Metadata-Flavor: Google`, or never answers
 * when `silent` (to test the time limit).
 */
export async function startMetadataStandIn(
  answers: { zone?: string; name?: string; silent?: boolean },
): Promise<{ host: string; requests: { path: string; flavor: string | undefined }[]; close(): Promise<void> }> {
  const requests: { path: string; flavor: string | undefined }[] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', flavor: req.headers['metadata-flavor'] as string | undefined });
    if (answers.silent) return;
    const value = req.url === '/computeMetadata/v1/instance/zone' ? answers.zone : req.url === '/computeMetadata/v1/instance/name' ? answers.name : undefined;
    if (value === undefined || req.headers['metadata-flavor'] !== 'Google') {
      res.writeHead(404, { 'Metadata-Flavor': 'Google' }).end();
      return;
    }
    res.writeHead(200, { 'Metadata-Flavor': 'Google', 'Content-Type': 'application/text' }).end(value);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
