/**
 * Where a chunked body ends (RFC 9112 §7.1): chunks of `size CRLF data CRLF`, a last chunk
 * of size 0, a trailer section, and an empty line. The data is skipped, never kept. Only the
 * framing is read, so a body cut short (a server killed mid-answer) is told from a whole
 * one, as an HTTP library would tell it.
 */
export interface ChunkedBody {
  /** Reads `chunk` from `from`: `done` once the body is complete, `bad` when it is not chunked framing, else `more`. */
  feed(chunk: Buffer, from?: number): 'more' | 'done' | 'bad';
  /** Once `done`: how many bytes of the chunk fed last came after the body (another response, which a connection that is reused must not have). */
  readonly trailing: number;
}

const CR = 0x0d;
const LF = 0x0a;
/** More hex digits than this is a chunk beyond any size a number holds exactly. */
const MAX_SIZE_DIGITS = 12;

type State = 'size' | 'extension' | 'size-lf' | 'data' | 'data-cr' | 'data-lf' | 'trailer-start' | 'trailer' | 'trailer-lf' | 'final-lf' | 'done' | 'bad';

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

export function createChunkedBody(): ChunkedBody {
  let state: State = 'size';
  let size = 0;
  let digits = 0;
  let remaining = 0;
  let trailing = 0;

  function step(byte: number): State {
    switch (state) {
      case 'size': {
        const value = hexValue(byte);
        if (value >= 0 && digits < MAX_SIZE_DIGITS) {
          size = size * 16 + value;
          digits++;
          return 'size';
        }
        if (digits === 0) return 'bad';
        if (byte === CR) return 'size-lf';
        // A chunk extension (`;name=value`), with the whitespace some servers put before it.
        return byte === 0x3b || byte === 0x20 || byte === 0x09 ? 'extension' : 'bad';
      }
      case 'extension':
        return byte === CR ? 'size-lf' : byte === LF ? 'bad' : 'extension';
      case 'size-lf':
        if (byte !== LF) return 'bad';
        if (size === 0) return 'trailer-start';
        remaining = size;
        return 'data';
      case 'data-cr':
        return byte === CR ? 'data-lf' : 'bad';
      case 'data-lf':
        size = 0;
        digits = 0;
        return byte === LF ? 'size' : 'bad';
      case 'trailer-start':
        return byte === CR ? 'final-lf' : 'trailer';
      case 'trailer':
        return byte === CR ? 'trailer-lf' : 'trailer';
      case 'trailer-lf':
        return byte === LF ? 'trailer-start' : 'bad';
      case 'final-lf':
        return byte === LF ? 'done' : 'bad';
      default:
        return state;
    }
  }

  return {
    feed(chunk, from = 0) {
      let at = from;
      while (at < chunk.length && state !== 'done' && state !== 'bad') {
        if (state === 'data') {
          // The data itself is skipped in one step, whatever its size.
          const skipped = Math.min(remaining, chunk.length - at);
          remaining -= skipped;
          at += skipped;
          if (remaining === 0) state = 'data-cr';
          continue;
        }
        state = step(chunk[at]!);
        at++;
      }
      if (state === 'done') trailing = chunk.length - at;
      return state === 'done' ? 'done' : state === 'bad' ? 'bad' : 'more';
    },
    get trailing() {
      return trailing;
    },
  };
}
