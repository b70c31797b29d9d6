import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZonelabError } from '../errors.js';

/** Which zone and which VM a server says it is, in `X-Zone` and `X-Instance`. */
export interface ServerIdentity {
  zone: string;
  instance: string;
  /** Where each value came from, for the start-up log line. */
  source: { zone: 'flag' | 'env' | 'metadata' | 'default'; instance: 'flag' | 'metadata' | 'hostname' };
  /** Why the server believes it runs on Google Compute Engine, or null when it does not. */
  googleCloud: string | null;
}

/** One more ask of the metadata server on a VM, for the log. */
export interface MetadataRetry {
  /** 1 for the first retry. */
  attempt: number;
  /** What is still unknown: `zone`, `name`. */
  missing: string[];
  /** How long until this retry, in ms. */
  waitMs: number;
  /** Since the first ask, in ms. */
  elapsedMs: number;
}

export interface IdentityOptions {
  /** `--zone`; wins over everything. */
  zone?: string | undefined;
  /** `--instance`; wins over the metadata server. */
  instance?: string | undefined;
  /** Environment to read `ZONE` and `GCE_METADATA_HOST` from; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Time allowed for each ask of the metadata server; default 500 ms. */
  metadataTimeoutMs?: number;
  /**
   * On Google Cloud, how long to keep asking for what is still unknown before refusing to
   * start; default 60000 ms. Off Google Cloud the first ask is the only one.
   */
  metadataPatienceMs?: number;
  /** Longest wait between two asks on Google Cloud; default 5000 ms. */
  maxBackoffMs?: number;
  /** The folder of the machine's DMI strings (`product_name`, `bios_vendor`); default `/sys/class/dmi/id`. */
  dmiDir?: string;
  /**
   * Where to ask instead of `GCE_METADATA_HOST` or metadata.google.internal (a stand-in).
   * Unlike `GCE_METADATA_HOST` it says nothing about running on Google Cloud.
   */
  metadataHost?: string;
  /** Told before each retry on Google Cloud (the server logs a line per try). */
  onRetry?: (retry: MetadataRetry) => void;
}

const DEFAULT_METADATA_HOST = 'metadata.google.internal';
const DMI_DIR = '/sys/class/dmi/id';

async function readMetadata(host: string, item: string, timeoutMs: number): Promise<string | null> {
  try {
    const response = await fetch(`http://${host}/computeMetadata/v1/instance/${item}`, {
      headers: { 'Metadata-Flavor': 'Google' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    // The real server marks its answers; anything else (a captive portal, a proxy) is ignored.
    if (!response.ok || response.headers.get('metadata-flavor') !== 'Google') return null;
    const text = (await response.text()).trim();
    return text === '' ? null : text;
  } catch {
    return null;
  }
}

function dmiString(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, name), 'utf8').trim();
  } catch {
    return '';
  }
}

/** Why the machine's firmware says it is a Compute Engine VM, or null. */
function googleMachine(dir: string): string | null {
  const product = dmiString(dir, 'product_name');
  if (/^Google/.test(product)) return `the machine is a "${product}"`;
  if (dmiString(dir, 'bios_vendor') === 'Google') return 'its firmware is Google\'s';
  return null;
}

/**
 * Zone: `--zone`, else `ZONE`, else the GCE metadata server (`GCE_METADATA_HOST` honoured;
 * `projects/<n>/zones/us-east1-c` → `us-east1-c`), else `local`.
 * Instance: `--instance`, else metadata `instance/name`, else the hostname.
 *
 * The metadata server is asked only for what is still unknown, both at once. Off Google
 * Cloud one short ask is all, so a server on a laptop starts without a delay worth noting.
 * On a VM a made-up zone would make every answer's `X-Zone` a lie that nothing reports, so
 * there the server keeps asking with back-off and, failing that, refuses to start. A VM is
 * recognised by a metadata server named in `GCE_METADATA_HOST`, by the machine's DMI
 * strings (a product name starting with "Google", as Google's Go library for the metadata
 * server checks it, cloud.google.com/go/compute/metadata; or the BIOS vendor "Google", as
 * its Node.js library gcp-metadata does, src/gcp-residency.ts), or by the metadata server
 * answering any of the asks. Google
 * asks for the retry: the metadata server "might return a Error 503" for up to a second
 * during maintenance (https://cloud.google.com/compute/docs/metadata/querying-metadata).
 */
export async function discoverIdentity(options: IdentityOptions = {}): Promise<ServerIdentity> {
  const env = options.env ?? process.env;
  const zoneFromEnv = env.ZONE?.trim() || undefined;
  const knownZone = options.zone ?? zoneFromEnv;
  const host = options.metadataHost ?? (env.GCE_METADATA_HOST?.trim() || DEFAULT_METADATA_HOST);
  const askTimeoutMs = options.metadataTimeoutMs ?? 500;
  const found: { zone: string | null; name: string | null } = { zone: null, name: null };
  const missing = () => [
    ...(knownZone === undefined && found.zone === null ? ['zone'] : []),
    ...(options.instance === undefined && found.name === null ? ['name'] : []),
  ];
  const ask = async (timeoutMs: number) => {
    const wanted = missing();
    const [zone, name] = await Promise.all([
      wanted.includes('zone') ? readMetadata(host, 'zone', timeoutMs) : null,
      wanted.includes('name') ? readMetadata(host, 'name', timeoutMs) : null,
    ]);
    found.zone ??= zone;
    found.name ??= name;
  };

  let googleCloud: string | null = null;
  if (missing().length > 0) {
    const started = performance.now();
    await ask(askTimeoutMs);
    googleCloud =
      (options.metadataHost === undefined && env.GCE_METADATA_HOST?.trim() ? `GCE_METADATA_HOST names ${host}` : null) ??
      googleMachine(options.dmiDir ?? DMI_DIR) ??
      (found.zone !== null || found.name !== null ? `the metadata server at ${host} answers` : null);
    if (googleCloud !== null) {
      const patienceMs = options.metadataPatienceMs ?? 60_000;
      const maxBackoffMs = options.maxBackoffMs ?? 5000;
      for (let attempt = 1, backoffMs = 250; missing().length > 0; attempt++, backoffMs = Math.min(backoffMs * 2, maxBackoffMs)) {
        const elapsedMs = performance.now() - started;
        if (elapsedMs >= patienceMs) {
          throw new ZonelabError(
            'E_NO_IDENTITY',
            `on Google Cloud (${googleCloud}), but the metadata server gave no ${missing().join(' and no ')} within ${patienceMs / 1000} s: ` +
              'refusing to serve under a made-up zone (name it with --zone and --instance, or fix the metadata server)',
          );
        }
        const waitMs = Math.min(backoffMs, patienceMs - elapsedMs);
        options.onRetry?.({ attempt, missing: missing(), waitMs, elapsedMs });
        await sleep(waitMs);
        // A metadata server that is only slow (a VM busy booting) gets longer each time,
        // within what is left of the patience.
        const leftMs = patienceMs - (performance.now() - started);
        await ask(Math.max(50, Math.min(askTimeoutMs * 2 ** attempt, 10_000, leftMs)));
      }
    }
  }
  const zone = options.zone ?? zoneFromEnv ?? found.zone?.split('/').pop() ?? 'local';
  const instance = options.instance ?? found.name ?? hostname();
  return {
    zone,
    instance,
    source: {
      zone: options.zone !== undefined ? 'flag' : zoneFromEnv ? 'env' : found.zone ? 'metadata' : 'default',
      instance: options.instance !== undefined ? 'flag' : found.name ? 'metadata' : 'hostname',
    },
    googleCloud,
  };
}
