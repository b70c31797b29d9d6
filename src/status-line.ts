/** A status line: one line rewritten in place on a terminal, plain lines in logs and CI. */
export interface StatusLine {
  /** The current state; shown at most every 250 ms on a terminal, every 5 s otherwise. */
  update(text: string): void;
  /** A line of its own (a step, a result); the status line is cleared first. */
  line(text: string): void;
  /** Removes the status line (before the command prints its results). */
  clear(): void;
}

const INTERACTIVE_MS = 250;
const PLAIN_MS = 5000;

/**
 * The one status-line writer of every long command (failover, client, bucket, gcp), with
 * one throttle: a terminal sees a live line, a log a line every few seconds.
 */
export function createStatusLine(
  stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  options: { /** Plain lines even on a terminal (when other output shares it). */ plain?: boolean } = {},
): StatusLine {
  const interactive = stream.isTTY === true && !options.plain;
  let last = Number.NEGATIVE_INFINITY;
  let showing = false;
  const clear = () => {
    if (interactive && showing) stream.write('\r\x1b[2K');
    showing = false;
  };
  return {
    update(text) {
      const now = performance.now();
      if (now - last < (interactive ? INTERACTIVE_MS : PLAIN_MS)) return;
      last = now;
      if (interactive) {
        stream.write(`\r\x1b[2K${text}`);
        showing = true;
      } else {
        stream.write(`${text}\n`);
      }
    },
    line(text) {
      clear();
      stream.write(`${text}\n`);
    },
    clear,
  };
}
