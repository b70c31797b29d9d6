import type { ObjectMeta } from '../storage/index.js';

/** Header values of a conditional GET; absent ones are undefined. */
export interface ConditionalHeaders {
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
}

function weakEquals(a: string, b: string): boolean {
  return a.replace(/^W\//, '') === b.replace(/^W\//, '');
}

/**
 * Whether a GET/HEAD can be answered 304 (RFC 9110 §13.1.2 and §13.1.3): If-None-Match,
 * when present, decides alone (weak comparison); otherwise If-Modified-Since, compared at
 * one-second resolution since HTTP dates have no finer one.
 */
export function isNotModified(headers: ConditionalHeaders, meta: ObjectMeta): boolean {
  if (headers.ifNoneMatch !== undefined) {
    const value = headers.ifNoneMatch.trim();
    if (value === '*') return true;
    return value.split(',').some((tag) => weakEquals(tag.trim(), meta.etag));
  }
  if (headers.ifModifiedSince !== undefined) {
    const since = Date.parse(headers.ifModifiedSince);
    if (Number.isNaN(since)) return false;
    return Math.floor(meta.lastModified.getTime() / 1000) <= Math.floor(since / 1000);
  }
  return false;
}
