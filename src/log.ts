import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

// Cloud Logging reads `severity` and `message` from a JSON line (and `httpRequest`,
// `time`), so on a GCE VM the Ops Agent ships these lines unchanged and they keep their
// level. Pino's own names are mapped here once.
const CLOUD_SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export interface LoggerOptions {
  /** Minimum level written; default `info`. */
  level?: string;
  /** Written on every line, e.g. `{ component: 'serve' }`. */
  bindings?: Record<string, unknown>;
  /** Where lines go; default standard output. */
  destination?: DestinationStream;
}

/** A JSON-lines logger in Cloud Logging's structured format. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      messageKey: 'message',
      base: options.bindings ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ severity: CLOUD_SEVERITY[label] ?? 'DEFAULT' }),
      },
    },
    options.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
