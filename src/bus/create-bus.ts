import type { Logger } from '../log.js';
import { type BusSpec, parseBusSpec } from './bus-spec.js';
import type { EventPublisher, EventSubscriber } from './event-bus.js';
import { createOutboxPublisher } from './outbox.js';
import { createPubsubRemote, createPubsubSubscriber } from './pubsub.js';
import { createSqlitePublisher, createSqliteSubscriber } from './sqlite.js';
import { ZonelabError } from '../errors.js';

export interface PublisherOptions {
  /** The outbox file for a Pub/Sub topic (one per server process). */
  outboxPath: string;
  /** The server's instance name: with SQLite it names the event file only this server writes. */
  instance: string;
  logger: Logger;
}

/** The server's publisher for a `--bus` value; `null` for `log` (events only logged). */
export async function createEventPublisher(bus: string | BusSpec, options: PublisherOptions): Promise<EventPublisher | null> {
  const spec = typeof bus === 'string' ? parseBusSpec(bus) : bus;
  switch (spec.kind) {
    case 'log':
      return null;
    case 'sqlite':
      return createSqlitePublisher({ dir: spec.dir, instance: options.instance });
    case 'pubsub-topic': {
      const remote = await createPubsubRemote({ project: spec.project, topic: spec.topic, logger: options.logger });
      return createOutboxPublisher({ path: options.outboxPath, remote, logger: options.logger });
    }
    case 'pubsub-subscription':
      throw new ZonelabError('E_BAD_BUS', 'a server publishes to a topic: use --bus pubsub:projects/<p>/topics/<t>');
  }
}

export interface SubscriberOptions {
  consumer: string;
  fromStart: boolean;
  logger?: Logger;
}

/** The audit's subscriber for a `--bus` value. */
export async function createEventSubscriber(bus: string | BusSpec, options: SubscriberOptions): Promise<EventSubscriber> {
  const spec = typeof bus === 'string' ? parseBusSpec(bus) : bus;
  switch (spec.kind) {
    case 'sqlite':
      return createSqliteSubscriber({ dir: spec.dir, consumer: options.consumer, fromStart: options.fromStart });
    case 'pubsub-subscription':
      if (options.fromStart) {
        throw new ZonelabError('E_BAD_ARGUMENT', '--from-start works with sqlite only (a Pub/Sub subscription is replayed with "gcloud pubsub subscriptions seek")');
      }
      return createPubsubSubscriber({ project: spec.project, subscription: spec.subscription, ...(options.logger ? { logger: options.logger } : {}) });
    case 'pubsub-topic':
      throw new ZonelabError('E_BAD_BUS', 'the audit reads a subscription: use --bus pubsub:projects/<p>/subscriptions/<s>');
    case 'log':
      throw new ZonelabError('E_BAD_BUS', 'with --bus log events are only logged by the servers; there is nothing to audit');
  }
}
