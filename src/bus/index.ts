export { type BusSpec, DEFAULT_BUS, parseBusSpec } from './bus-spec.js';
export { createEventPublisher, createEventSubscriber, type PublisherOptions, type SubscriberOptions } from './create-bus.js';
export type { ForbiddenEvent } from './event-types.js';
export { type Delivery, type EventHandler, type EventPublisher, type EventSubscriber, parseEvent } from './event-bus.js';
export { createOutboxPublisher, type OutboxPublisherOptions, type RemotePublisher } from './outbox.js';
export { createPubsubRemote, createPubsubSubscriber } from './pubsub.js';
export { createSqlitePublisher, createSqliteSubscriber, eventFileOf, type SqlitePublisherOptions, type SqliteSubscriberOptions } from './sqlite.js';
