/**
 * The one error class zonelab throws for conditions a caller may want to branch on.
 * `code` is stable (callers compare it); `message` is one line meant for a person.
 * The CLI prints `message` alone for these, never a stack trace.
 */
export class ZonelabError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ZonelabError';
    this.code = code;
  }
}

export function isZonelabError(error: unknown, code?: string): error is ZonelabError {
  return error instanceof ZonelabError && (code === undefined || error.code === code);
}

/** A short description of any thrown value, for log lines and one-line errors. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
