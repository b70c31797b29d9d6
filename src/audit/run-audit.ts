import { writeSync } from 'node:fs';
import { logAccessRetries, untilPermitted } from '../access-wait.js';
import { createEventSubscriber } from '../bus/index.js';
import type { Logger } from '../log.js';
import { formatEventJson, formatEventLine } from './format.js';

export interface AuditOptions {
  /** A `--bus` value the audit can read: `sqlite:<folder>` (every server's event file in it) or a Pub/Sub subscription. */
  bus: string;
  consumer: string;
  json: boolean;
  fromStart: boolean;
  /** Stops the audit: the event in hand is finished and its position committed. */
  signal: AbortSignal;
  /** File descriptor lines are written to; default 1 (standard output). */
  fd?: number;
  logger?: Logger;
  /** Seconds to keep trying while Pub/Sub refuses the credentials (a role not arrived yet); default 0. */
  accessWaitSeconds?: number;
}

/**
 * App 2: prints every refused request once. Each line is written synchronously, so it has
 * left the process before the bus commits the position or acknowledges the message.
 * Resolves with the number of events printed.
 */
export async function runAudit(options: AuditOptions): Promise<number> {
  const subscriber = await untilPermitted(
    () =>
      createEventSubscriber(options.bus, {
        consumer: options.consumer,
        fromStart: options.fromStart,
        ...(options.logger ? { logger: options.logger } : {}),
      }),
    {
      waitMs: (options.accessWaitSeconds ?? 0) * 1000,
      signal: options.signal,
      onRetry: logAccessRetries(options.logger, options.bus),
    },
  );
  // The one line that says the audit is past its waits and reading: on a VM, where the
  // journal shows whether it ever got there.
  options.logger?.info({ bus: options.bus, consumer: options.consumer }, `following ${options.bus} as consumer ${options.consumer}: one line per refused request`);
  const format = options.json ? formatEventJson : formatEventLine;
  const fd = options.fd ?? 1;
  let printed = 0;
  try {
    await subscriber.run((event) => {
      writeSync(fd, `${format(event)}\n`);
      printed++;
    }, options.signal);
  } finally {
    await subscriber.close();
  }
  return printed;
}
