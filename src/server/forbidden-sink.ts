import type { Logger } from '../log.js';

/** One request refused for export control, as reported to the audit app. */
export interface ForbiddenEvent {
  /** Unique and time-ordered (UUIDv7); also sent to the client as `X-Event-Id`. */
  id: string;
  /** ISO 8601 time the request was refused. */
  at: string;
  /** The forbidden country, spelled as in the export-control list. */
  country: string;
  /** `X-client-IP` when the request carried one, else the peer address. */
  clientIp: string;
  method: string;
  path: string;
  zone: string;
  instance: string;
}

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
