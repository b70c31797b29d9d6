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
