import { constants } from 'node:os';

export interface Interruptible {
  /** Aborted at the first SIGINT or SIGTERM: the work should stop gracefully. */
  readonly signal: AbortSignal;
  /** Null, or the exit code of an interrupted command: 128 + the signal's number. */
  readonly exitCode: number | null;
  /** Stops listening (once the work is over). */
  release(): void;
}

/** Ctrl-C's exit code (128 + SIGINT), also of work that stopped because it was interrupted. */
export const INTERRUPTED_EXIT_CODE = 130;

/** 130 for SIGINT, 143 for SIGTERM: what a shell reports for a process a signal ended. */
export function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/**
 * The one way commands handle Ctrl-C and SIGTERM: the first asks the work to stop
 * gracefully (the abort signal, `onInterrupt`, and `message` on standard error); a second
 * exits at once with 128 + its number. A command whose work was interrupted ends with that
 * code too (`exitCode`), except the services (serve, audit, the foreground lab), whose
 * normal way to stop is a signal and which exit 0 after stopping cleanly.
 */
export function interruptible(message?: string, onInterrupt?: (signal: NodeJS.Signals) => void): Interruptible {
  const controller = new AbortController();
  let first: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (first !== null) {
      process.stderr.write(`\n${signal} again: exiting at once\n`);
      process.exit(exitCodeOf(signal));
    }
    first = signal;
    if (message) process.stderr.write(`\n${message}\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
    onInterrupt?.(signal);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    get exitCode() {
      return first === null ? null : exitCodeOf(first);
    },
    release() {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    },
  };
}
