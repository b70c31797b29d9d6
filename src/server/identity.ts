import { hostname } from 'node:os';

/** Which zone and which VM a server says it is, in `X-Zone` and `X-Instance`. */
export interface ServerIdentity {
  zone: string;
  instance: string;
  /** Where each value came from, for the start-up log line. */
  source: { zone: 'flag' | 'env' | 'metadata' | 'default'; instance: 'flag' | 'metadata' | 'hostname' };
}

export interface IdentityOptions {
  /** `--zone`; wins over everything. */
  zone?: string | undefined;
  /** `--instance`; wins over the metadata server. */
  instance?: string | undefined;
  /** Environment to read `ZONE` and `GCE_METADATA_HOST` from; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Total time allowed for the metadata server; default 500 ms. */
  metadataTimeoutMs?: number;
}

const DEFAULT_METADATA_HOST = 'metadata.google.internal';

async function readMetadata(host: string, item: string, signal: AbortSignal): Promise<string | null> {
  try {
    const response = await fetch(`http://${host}/computeMetadata/v1/instance/${item}`, {
      headers: { 'Metadata-Flavor': 'Google' },
      signal,
    });
    // The real server marks its answers; anything else (a captive portal, a proxy) is ignored.
    if (!response.ok || response.headers.get('metadata-flavor') !== 'Google') return null;
    const text = (await response.text()).trim();
    return text === '' ? null : text;
  } catch {
    return null;
  }
}

/**
 * Zone: `--zone`, else `ZONE`, else the GCE metadata server (`GCE_METADATA_HOST` honoured;
 * `projects/<n>/zones/us-east1-c` → `us-east1-c`), else `local`.
 * Instance: `--instance`, else metadata `instance/name`, else the hostname.
 * The metadata server is asked only for what is still unknown, both at once, and given
 * up on after `metadataTimeoutMs` so a server off Google Cloud starts without delay worth noting.
 */
export async function discoverIdentity(options: IdentityOptions = {}): Promise<ServerIdentity> {
  const env = options.env ?? process.env;
  const zoneFromEnv = env.ZONE?.trim() || undefined;
  const knownZone = options.zone ?? zoneFromEnv;
  const needMetadata = knownZone === undefined || options.instance === undefined;
  let metadataZone: string | null = null;
  let metadataName: string | null = null;
  if (needMetadata) {
    const host = env.GCE_METADATA_HOST?.trim() || DEFAULT_METADATA_HOST;
    const signal = AbortSignal.timeout(options.metadataTimeoutMs ?? 500);
    [metadataZone, metadataName] = await Promise.all([
      knownZone === undefined ? readMetadata(host, 'zone', signal) : null,
      options.instance === undefined ? readMetadata(host, 'name', signal) : null,
    ]);
  }
  const zone = options.zone ?? zoneFromEnv ?? metadataZone?.split('/').pop() ?? 'local';
  const instance = options.instance ?? metadataName ?? hostname();
  return {
    zone,
    instance,
    source: {
      zone: options.zone !== undefined ? 'flag' : zoneFromEnv ? 'env' : metadataZone ? 'metadata' : 'default',
      instance: options.instance !== undefined ? 'flag' : metadataName ? 'metadata' : 'hostname',
    },
  };
}
