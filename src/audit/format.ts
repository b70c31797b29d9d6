import type { ForbiddenEvent } from '../bus/index.js';

// Values with spaces or quotes are quoted, so each line still splits into key=value pairs.
function field(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * One human line per refused request:
 * `2026-11-25T08:00:00.123Z FORBIDDEN country=Iran ip=1.2.3.4 GET /b/w/7.html zone=… instance=… id=…`
 */
export function formatEventLine(event: ForbiddenEvent): string {
  return [
    event.at,
    'FORBIDDEN',
    `country=${field(event.country)}`,
    `ip=${field(event.clientIp)}`,
    field(event.method),
    field(event.path),
    `zone=${field(event.zone)}`,
    `instance=${field(event.instance)}`,
    `id=${field(event.id)}`,
  ].join(' ');
}

/** One JSON object per line: the event's own fields, nothing added. */
export function formatEventJson(event: ForbiddenEvent): string {
  const { id, at, country, clientIp, method, path, zone, instance } = event;
  return JSON.stringify({ id, at, country, clientIp, method, path, zone, instance });
}
