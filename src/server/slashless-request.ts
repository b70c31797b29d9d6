import type { RequestInfo } from './rules.js';

// `GET bucket/webdir/7.html HTTP/1.1`: the course's Python client passes its target to
// http.client as is, without a leading slash. node:http's parser refuses such a request
// line (HPE_INVALID_URL) before we see it, so the listener hands the refused bytes here.
const REQUEST_LINE = /^([A-Za-z]+) ([^\s/][^\s]*) HTTP\/1\.[01]$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

/**
 * The request in `raw` (the bytes node:http refused) when it is a well-formed HTTP/1.x
 * request whose only fault is a target without a leading slash; otherwise `null` (400).
 * Only complete heads are accepted: the course client sends its whole head at once.
 */
export function parseSlashlessRequest(raw: Buffer, remoteAddress: string): RequestInfo | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const requestLine = REQUEST_LINE.exec(lines[0] ?? '');
  if (!requestLine) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const header = HEADER_LINE.exec(line);
    if (!header) return null;
    const name = header[1]!.toLowerCase();
    headers[name] = name in headers ? `${headers[name]}, ${header[2]}` : header[2]!;
  }
  return { method: requestLine[1]!, target: requestLine[2]!, headers, remoteAddress };
}
