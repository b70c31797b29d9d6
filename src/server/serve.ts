import { join } from 'node:path';
import { createEventPublisher } from '../bus/index.js';
import type { Logger } from '../log.js';
import { createObjectStore } from '../storage/index.js';
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
  /** Seconds requests keep being served after SIGTERM while /healthz answers 503. */
  drainSeconds: number;
  /** MiB of objects cached in memory; 0 disables the cache. */
  cacheMb: number;
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
}

export interface RunningServer {
  server: ZoneServer;
  identity: ServerIdentity;
  /** Drains (see `ZoneServer.shutdown`), then releases the store and the sink. */
  shutdown(): Promise<void>;
}

/** App 1 as one call: identity, store, sink and listener, with the start-up log line. */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const [identity, store] = await Promise.all([
    discoverIdentity({ zone: options.zone, instance: options.instance }),
    createObjectStore(options.bucket, { cacheMb: options.cacheMb, revalidateMs: options.revalidateSeconds * 1000 }),
  ]);
  const logger = options.logger.child({
    'logging.googleapis.com/labels': { zone: identity.zone, instance: identity.instance },
  });
  const publisher = await createEventPublisher(options.bus, {
    outboxPath: options.outbox ?? join('data', `outbox-${identity.instance.replace(/[^\w.-]/g, '_')}.db`),
    instance: identity.instance,
    logger,
  });
  const sink = publisher ? createPublisherSink(publisher) : createLogSink(logger);
  const grayFaults = options.control ? new GrayFaults() : undefined;
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
    ...(publisher ? { healthDetails: () => publisher.stats() } : {}),
  });
  let control: ControlSocket | undefined;
  try {
    if (options.control && grayFaults) control = await startControlSocket(options.control, grayFaults, logger);
  } catch (error) {
    await server.close();
    throw error;
  }
  logger.info(
    {
      zone: identity.zone,
      instance: identity.instance,
      identitySource: identity.source,
      bucket: store.location,
      bucketName: store.bucketName,
      bus: options.bus,
      address: server.url,
      pid: process.pid,
    },
    `serving ${store.location} on ${server.url} as ${identity.instance} in zone ${identity.zone}`,
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
