import { setTimeout as sleep } from 'node:timers/promises';
import { isZonelabError } from './errors.js';
import type { Logger } from './log.js';

/** One refused try, for the log line that says what is being waited for. */
export interface AccessRetry {
  attempt: number;
  elapsedMs: number;
  /** How long until the next try. */
  waitMs: number;
  /** What the cloud said (the E_PERMISSION_DENIED message, which names the permission and the role). */
  cause: string;
}

export interface AccessWaitOptions {
  /** How long to keep trying while the credentials are refused; 0: fail at the first refusal. */
  waitMs: number;
  /** When the wait began, if earlier than this call (`performance.now()`): several checks share one wait. */
  startedAt?: number;
  onRetry: (retry: AccessRetry) => void;
  signal?: AbortSignal;
  /** The first wait; it doubles after each try, up to `maxDelayMs`. */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Runs `attempt` until it does not fail for lack of a permission, or `waitMs` has passed.
 * A role granted to a VM's service account "typically propagate[s] in 2 minutes, but could
 * potentially take 7 minutes or longer" (https://cloud.google.com/iam/docs/access-change-propagation),
 * so a VM that boots right after `gcp up` granted its roles is refused at first by Cloud
 * Storage and Pub/Sub, and would otherwise stop for good (its unit does not restart).
 * Any other error ends the wait at once.
 */
export async function untilPermitted<T>(attempt: () => Promise<T>, options: AccessWaitOptions): Promise<T> {
  const started = options.startedAt ?? performance.now();
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  let delayMs = options.firstDelayMs ?? 2000;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isZonelabError(error, 'E_PERMISSION_DENIED')) throw error;
      const elapsedMs = performance.now() - started;
      const waitMs = Math.min(delayMs, options.waitMs - elapsedMs);
      if (waitMs <= 0) {
        if (options.waitMs > 0) error.message = `${error.message} (still refused after ${Math.round(elapsedMs / 1000)} s and ${tries} ${tries === 1 ? 'try' : 'tries'})`;
        throw error;
      }
      options.onRetry({ attempt: tries, elapsedMs, waitMs, cause: error.message });
      await sleep(waitMs, undefined, options.signal ? { signal: options.signal } : {}).catch(() => {});
      // Stopped while waiting: no further call, and the refusal as it was.
      if (options.signal?.aborted) throw error;
      delayMs = Math.min(delayMs * 2, maxDelayMs);
    }
  }
}

/** An `onRetry` that logs each refused try as a WARNING: what was refused, why that may pass, when the next try is. */
export function logAccessRetries(logger: Pick<Logger, 'warn'> | undefined, what: string): (retry: AccessRetry) => void {
  return (retry) =>
    logger?.warn(
      { attempt: retry.attempt, elapsedMs: Math.round(retry.elapsedMs), cause: retry.cause },
      `${what} refused these credentials (${retry.cause}); a role just granted takes minutes to arrive: asking again in ${(retry.waitMs / 1000).toFixed(0)} s (try ${retry.attempt}, ${Math.round(retry.elapsedMs / 1000)} s so far)`,
    );
}
