/**
 * Progress for long work on standard error: one line rewritten in place on a terminal, at
 * most every 250 ms; plain lines at most every 2 s otherwise (logs and CI stay readable).
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr): { update(text: string): void; done(text: string): void } {
  const interactive = stream.isTTY === true;
  let last = 0;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < (interactive ? 250 : 2000)) return;
      last = now;
      stream.write(interactive ? `\r\x1b[2K${text}` : `${text}\n`);
    },
    done(text) {
      stream.write(interactive ? `\r\x1b[2K${text}\n` : `${text}\n`);
    },
  };
}
