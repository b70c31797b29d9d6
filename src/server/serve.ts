import { join } from 'node:path';
import { logAccessRetries, untilPermitted } from '../access-wait.js';
import { createEventPublisher } from '../bus/index.js';
import type { Logger } from '../log.js';
import { type CacheSize, createObjectStore, resolveCacheSize } from '../storage/index.js';
import { type ControlSocket, startControlSocket } from './control-socket.js';
import { createLogSink, createPublisherSink } from './forbidden-sink.js';
import { GrayFaults } from './gray-faults.js';
import { startZoneServer, type ZoneServer } from './http-listener.js';
import { discoverIdentity, type ServerIdentity } from './identity.js';

export interface ServeOptions {
  /** Local bucket folder or `gs://bucket[/prefix]`. */
  bucket: string;
  host: string;
  port: number;
  zone?: string | undefined;
  instance?: string | undefined;
  /** On Google Cloud, seconds to keep asking the metadata server for the zone and name before refusing to start; default 60. */
  metadataWaitSeconds?: number | undefined;
  /** Seconds requests keep being served after SIGTERM while /healthz answers 503. */
  drainSeconds: number;
  /** MiB the object cache may take (`auto`: an eighth of the memory, at most 256); 0 disables the cache. */
  cacheMb: number | 'auto';
  /** Seconds a cached object is served before the store is asked whether it changed. */
  revalidateSeconds: number;
  accessLog: boolean;
  /** Answer HEAD like GET without the body; default false: 501, as the assignment says. */
  allowHead?: boolean | undefined;
  logger: Logger;
  /** Where refused requests go: a `--bus` value (`sqlite:<folder>`, `log`, `pubsub:projects/<p>/topics/<t>`). */
  bus: string;
  /** The outbox file for a Pub/Sub bus; default `./data/outbox-<instance>.db`. */
  outbox?: string | undefined;
  /** A unix socket (mode 0600) through which the lab injects gray faults; none by default. */
  control?: string | undefined;
  /** Seconds to keep trying while Cloud Storage or Pub/Sub refuse the credentials (a role not arrived yet); default 0. */
  accessWaitSeconds?: number | undefined;
  /**
   * One worker of several (`serve --workers`): the identity the primary found (one per
   * server, whatever the number of workers), the gray faults the primary's control socket
   * sets, and the worker's number, which names its own event file and outbox.
   */
  worker?: { index: number; identity: ServerIdentity; grayFaults: GrayFaults; cache: CacheSize } | undefined;
}

export interface RunningServer {
  server: ZoneServer;
  identity: ServerIdentity;
  /** Drains (see `ZoneServer.shutdown`), then releases the store and the sink. */
  shutdown(): Promise<void>;
}

/** The zone and name this server reports: flags, $ZONE, the metadata server, or the local defaults. */
export function identityOf(options: Pick<ServeOptions, 'zone' | 'instance' | 'metadataWaitSeconds' | 'logger'>): Promise<ServerIdentity> {
  return discoverIdentity({
    zone: options.zone,
    instance: options.instance,
    ...(options.metadataWaitSeconds !== undefined ? { metadataPatienceMs: options.metadataWaitSeconds * 1000 } : {}),
    // On a VM the server waits for the metadata server rather than make up a zone: a line per try.
    onRetry: (retry) =>
      options.logger.warn(
        { missing: retry.missing, attempt: retry.attempt, elapsedMs: Math.round(retry.elapsedMs) },
        `the metadata server has not given this VM's ${retry.missing.join(' and ')} yet: asking again in ${(retry.waitMs / 1000).toFixed(2)} s`,
      ),
  });
}

/** App 1 as one call: identity, store, sink and listener, with the start-up log line. */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const cache = options.worker?.cache ?? resolveCacheSize(options.cacheMb);
  // The bucket and the topic share one wait: --access-wait bounds the whole start-up.
  const accessWaitStarted = performance.now();
  const permitted = <T>(what: string, attempt: () => Promise<T>) =>
    untilPermitted(attempt, {
      waitMs: (options.accessWaitSeconds ?? 0) * 1000,
      startedAt: accessWaitStarted,
      onRetry: logAccessRetries(options.logger, what),
    });
  const [identity, store] = await Promise.all([
    options.worker?.identity ?? identityOf(options),
    permitted(options.bucket, () => createObjectStore(options.bucket, { cacheMb: cache.mb, revalidateMs: options.revalidateSeconds * 1000 })),
  ]);
  const worker = options.worker;
  const logger = options.logger.child({
    'logging.googleapis.com/labels': { zone: identity.zone, instance: identity.instance, ...(worker ? { worker: String(worker.index) } : {}) },
  });
  // Each writer of events has a file of its own (SQLite) and an outbox of its own (Pub/Sub):
  // a worker's are named after the instance and its number.
  const writer = worker ? `${identity.instance}.worker-${worker.index}` : identity.instance;
  const outbox = options.outbox ?? join('data', `outbox-${writer.replace(/[^\w.-]/g, '_')}.db`);
  const publisher = await permitted(options.bus, () =>
    createEventPublisher(options.bus, {
      outboxPath: worker && options.outbox ? outbox.replace(/(\.db)?$/, `.worker-${worker.index}$1`) : outbox,
      instance: writer,
      logger,
    }),
  );
  const sink = publisher ? createPublisherSink(publisher) : createLogSink(logger);
  const grayFaults = worker?.grayFaults ?? (options.control ? new GrayFaults() : undefined);
  const server = await startZoneServer({
    ...(grayFaults ? { grayFaults } : {}),
    store,
    sink,
    zone: identity.zone,
    instance: identity.instance,
    logger,
    host: options.host,
    port: options.port,
    drainMs: options.drainSeconds * 1000,
    accessLog: options.accessLog,
    allowHead: options.allowHead ?? false,
    healthDetails: () => ({ ...publisher?.stats(), ...store.stats?.() }),
  });
  let control: ControlSocket | undefined;
  try {
    // A worker's faults come from the primary, which owns the one control socket.
    if (options.control && grayFaults && !worker) control = await startControlSocket(options.control, grayFaults, logger);
  } catch (error) {
    await server.close();
    throw error;
  }
  logger.info(
    {
      zone: identity.zone,
      instance: identity.instance,
      identitySource: identity.source,
      googleCloud: identity.googleCloud,
      cacheMb: cache.mb,
      bucket: store.location,
      bucketName: store.bucketName,
      bus: options.bus,
      address: server.url,
      pid: process.pid,
      ...(worker ? { worker: worker.index } : {}),
    },
    `${worker ? `worker ${worker.index}: ` : ''}serving ${store.location} on ${server.url} as ${identity.instance} in zone ${identity.zone}; cache ${cache.mb === 0 ? 'off' : `${cache.mb} MiB`} (${cache.why})`,
  );
  return {
    server,
    identity,
    shutdown: async () => {
      await server.shutdown();
      await Promise.all([store.close(), sink.close(), control?.close()]);
      logger.info('stopped');
    },
  };
}
