import type { ForbiddenEvent } from '../bus/index.js';
import type { Logger } from '../log.js';

export type { ForbiddenEvent } from '../bus/index.js';

/**
 * Where refused requests are reported. The server answers 400 only after `report`
 * resolved, so an answered refusal is never an unreported one; a rejection becomes a 503.
 */
export interface ForbiddenEventSink {
  report(event: ForbiddenEvent): Promise<void>;
  close(): Promise<void>;
}

/** The sink of a server without an event bus: one WARNING log line per event. */
export function createLogSink(logger: Logger): ForbiddenEventSink {
  return {
    report: async (event) => {
      logger.warn({ event }, `forbidden request from ${event.country} (${event.clientIp}) ${event.method} ${event.path}`);
    },
    close: async () => {},
  };
}

/** The sink of a server with an event bus: the 400 waits for the publisher's commit. */
export function createPublisherSink(publisher: { publish(event: ForbiddenEvent): Promise<void>; close(): Promise<void> }): ForbiddenEventSink {
  return {
    report: (event) => publisher.publish(event),
    close: () => publisher.close(),
  };
}
