/**
 * Turning a request target into an object key, refusing anything that could leave the
 * bucket. Pure: tested directly with every traversal spelling we know.
 */

export type ObjectTarget =
  | { kind: 'key'; key: string }
  /** The path has no object in it at all (`/`, `/<bucket>`): answered 404. */
  | { kind: 'empty' }
  /** The path is malformed or tries to escape the bucket: answered 400. */
  | { kind: 'bad'; reason: string };

/** The path part of a request target: query dropped, absolute-form (`http://h/p`) reduced to its path. */
export function pathOfTarget(target: string): string {
  let path = target;
  const query = path.search(/[?#]/);
  if (query !== -1) path = path.slice(0, query);
  // Only a target that does not start with a slash can be in absolute form.
  if (path.startsWith('/')) return path;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (absolute) path = path.slice(absolute[0].length) || '/';
  return path;
}

/**
 * The object key a request target names. Both `/<bucket>/<webdir>/7.html` and the course
 * client's slash-less `<bucket>/<webdir>/7.html` work; when the first segment is not the
 * bucket's name the whole path is the key (`-b none`).
 */
export function objectTargetOf(target: string, bucketName: string): ObjectTarget {
  return objectTargetOfPath(pathOfTarget(target), bucketName);
}

// What makes a path need the segment-by-segment reading below: an escape to decode, a
// character no name may hold, an empty segment, a dot segment.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const NEEDS_A_CLOSE_LOOK = /[%\\\u0000-\u001f\u007f]|\/\/|^\/|\/$|(^|\/)\.\.?(\/|$)/;

/** `objectTargetOf` for a path already taken from its target (see `pathOfTarget`). */
export function objectTargetOfPath(path: string, bucketName: string): ObjectTarget {
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  if (trimmed === '') return { kind: 'empty' };
  // The usual `/bucket/webdir/7.html`: nothing to decode or refuse, so no segments to
  // build (a busy server reads thousands of these a second).
  if (!NEEDS_A_CLOSE_LOOK.test(trimmed)) {
    if (trimmed === bucketName) return { kind: 'empty' };
    return { kind: 'key', key: trimmed.startsWith(bucketName) && trimmed[bucketName.length] === '/' ? trimmed.slice(bucketName.length + 1) : trimmed };
  }
  const segments: string[] = [];
  for (const raw of trimmed.split('/')) {
    if (raw === '') return { kind: 'bad', reason: 'empty path segment' };
    let segment = raw;
    if (raw.includes('%')) {
      try {
        segment = decodeURIComponent(raw);
      } catch {
        return { kind: 'bad', reason: 'malformed percent-encoding' };
      }
    }
    if (segment === '.' || segment === '..') return { kind: 'bad', reason: 'dot segment' };
    // An encoded slash or a backslash would let one segment hide a path; control
    // characters (NUL among them) have no business in an object name.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
    if (/[/\\\u0000-\u001f\u007f]/.test(segment)) return { kind: 'bad', reason: 'forbidden character in path' };
    segments.push(segment);
  }
  if (segments[0] === bucketName) segments.shift();
  if (segments.length === 0) return { kind: 'empty' };
  return { kind: 'key', key: segments.join('/') };
}
