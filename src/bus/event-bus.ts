import type { ForbiddenEvent } from './event-types.js';

export type { ForbiddenEvent } from './event-types.js';

/** The server's side of the bus. */
export interface EventPublisher {
  /**
   * Resolves once the event is durable: committed to the database (SQLite) or to the local
   * outbox (Pub/Sub). Rejects (ZonelabError) when it cannot be made durable.
   */
  publish(event: ForbiddenEvent): Promise<void>;
  /** Numbers worth showing on /healthz (outbox backlog …); empty when there are none. */
  stats(): Record<string, number>;
  close(): Promise<void>;
}

/** What the bus knows about one delivery besides the event. */
export interface Delivery {
  /** Wall-clock ms when the event became durable on the bus, when the bus knows it. */
  committedAt?: number;
}

/**
 * Called once per delivered event; when it returns, the event counts as handled and its
 * position is committed (SQLite) or it is acknowledged (Pub/Sub). It must not return before
 * the event is printed.
 */
export type EventHandler = (event: ForbiddenEvent, delivery: Delivery) => void;

/** The audit's side of the bus: one named consumer. */
export interface EventSubscriber {
  /**
   * Delivers events to `handler` until `signal` aborts; then finishes the event in hand,
   * commits its position and resolves.
   */
  run(handler: EventHandler, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** An event read back from the bus: refuses anything that is not a well-formed event. */
export function parseEvent(text: string): ForbiddenEvent {
  const value = JSON.parse(text) as Record<string, unknown>;
  for (const field of ['id', 'at', 'country', 'clientIp', 'method', 'path', 'zone', 'instance']) {
    if (typeof value[field] !== 'string') throw new Error(`event field ${field} is missing or not a string`);
  }
  return value as unknown as ForbiddenEvent;
}
