/** Error codes that say the connection failed before any response: safe to retry on a new one. */
export const CONNECTION_FAILURES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'CONNECT_TIMEOUT']);

const UNDICI_CODES: Record<string, string> = {
  UND_ERR_SOCKET: 'ECONNRESET',
  UND_ERR_CLOSED: 'ECONNRESET',
  UND_ERR_CONNECT_TIMEOUT: 'CONNECT_TIMEOUT',
  UND_ERR_HEADERS_TIMEOUT: 'TIMEOUT',
  UND_ERR_BODY_TIMEOUT: 'TIMEOUT',
  UND_ERR_DESTROYED: 'CANCELLED',
  UND_ERR_ABORTED: 'CANCELLED',
  EAI_AGAIN: 'ENOTFOUND',
};

/** Codes the records use that are not system error codes, kept as they are. */
const RECORD_CODES = new Set(['CONNECT_TIMEOUT', 'TIMEOUT', 'CANCELLED']);

/**
 * A stable code for a failed attempt. undici wraps system errors (the code may sit on the
 * error or on its cause) and has codes of its own; both are reduced to the short list the
 * records use. `cancelled` says the run itself cut the attempt off (Ctrl-C after the grace).
 */
export function errorCodeOf(error: unknown, cancelled: boolean): string {
  if (cancelled) return 'CANCELLED';
  for (let current: unknown = error, depth = 0; current && depth < 4; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (code in UNDICI_CODES) return UNDICI_CODES[code]!;
      if (RECORD_CODES.has(code)) return code;
      if (/^E[A-Z]+$/.test(code)) return code;
    }
  }
  return 'EOTHER';
}
