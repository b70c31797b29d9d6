import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStatusLine } from '../../src/status-line.js';

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { written, isTTY, write: (text: string) => written.push(text) > 0 } as unknown as NodeJS.WriteStream & { written: string[] };
}

describe('the status line (one writer, one throttle)', () => {
  it('rewrites one line in place on a terminal, at most four times a second, and clears it for a line of its own', () => {
    const tty = stream(true);
    const status = createStatusLine(tty);
    status.update('elapsed 0.1 s');
    status.update('elapsed 0.2 s');
    status.line('fault: kill us-east1-b at 5.0 s');
    status.clear();
    assert.deepEqual(tty.written, ['\r\x1b[2Kelapsed 0.1 s', '\r\x1b[2K', 'fault: kill us-east1-b at 5.0 s\n']);
  });

  it('writes plain lines, at most one every 5 s, where nothing can be rewritten (logs, CI, -v)', () => {
    const log = stream(false);
    const status = createStatusLine(log);
    status.update('elapsed 0.1 s');
    status.update('elapsed 0.2 s');
    status.line('done');
    assert.deepEqual(log.written, ['elapsed 0.1 s\n', 'done\n']);
    const verbose = stream(true);
    createStatusLine(verbose, { plain: true }).update('x');
    assert.deepEqual(verbose.written, ['x\n']);
  });
});
