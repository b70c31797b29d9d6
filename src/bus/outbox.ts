import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, ZonelabError } from '../errors.js';
import type { Logger } from '../log.js';
import { openSqlite, type SqliteConnection } from '../sqlite/index.js';
import { type EventPublisher, type ForbiddenEvent, parseEvent } from './event-bus.js';

/** Where the relay sends events: Pub/Sub in production, a stand-in in tests. */
export interface RemotePublisher {
  /** Resolves once the remote accepted every event of the batch; rejects otherwise. */
  publish(events: ForbiddenEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface OutboxPublisherOptions {
  /** The outbox's SQLite file; created when missing. One per server process. */
  path: string;
  remote: RemotePublisher;
  /** Most events waiting to be sent; past it `publish` rejects (the server answers 503). Default 100000. */
  maxPending?: number;
  /** Events per remote call; default 100. */
  batchSize?: number;
  /** First and longest wait between failed sends, in ms; defaults 200 and 5000. */
  retryMinMs?: number;
  retryMaxMs?: number;
  logger?: Logger;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  body TEXT NOT NULL,
  created_at REAL NOT NULL,
  sent_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;`;

// Sent rows are kept a while for inspection, then removed so the file stays small.
const KEEP_SENT_MS = 10 * 60_000;

/**
 * Publishing through a local outbox: `publish` commits the event to a SQLite file and
 * returns (the server can answer at once); a relay sends the backlog to the remote in order
 * and marks rows sent only after the remote accepted them. A remote outage or a restart
 * of the server therefore loses nothing: the backlog is sent when the remote is back (or
 * when the server starts again). An event may reach the remote twice if the server dies
 * between the remote's acceptance and the marking; the audit drops such duplicates by id.
 */
export function createOutboxPublisher(options: OutboxPublisherOptions): EventPublisher {
  const maxPending = options.maxPending ?? 100_000;
  const batchSize = options.batchSize ?? 100;
  const retryMinMs = options.retryMinMs ?? 200;
  const retryMaxMs = options.retryMaxMs ?? 5000;
  mkdirSync(dirname(options.path), { recursive: true });
  let db: SqliteConnection;
  try {
    db = openSqlite(options.path);
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(SCHEMA);
  } catch (error) {
    throw new ZonelabError('E_OUTBOX', `cannot open the outbox ${options.path}: ${describeError(error)}`, { cause: error });
  }
  const insert = db.prepare('INSERT INTO outbox (id, body, created_at) VALUES (?, ?, ?)');
  const unsent = db.prepare<{ seq: number; body: string }>(
    'SELECT seq, body FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?',
  );
  const markSent = db.prepare('UPDATE outbox SET sent_at = ? WHERE seq <= ? AND sent_at IS NULL');
  const purge = db.prepare('DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?');
  let pending = (db.prepare('SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL').get() as { n: number }).n;
  let sent = 0;
  let failures = 0;

  const stop = new AbortController();
  let wake: (() => void) | null = null;
  const wakeRelay = () => {
    wake?.();
    wake = null;
  };

  async function relay(): Promise<void> {
    let delay = retryMinMs;
    let lastPurge = 0;
    while (!stop.signal.aborted) {
      const rows = unsent.all(batchSize);
      if (rows.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 1000).unref();
        });
        continue;
      }
      try {
        await options.remote.publish(rows.map((row) => parseEvent(row.body)));
        // Rows are sent in seq order and nothing else marks them, so "up to the last seq".
        markSent.run(Date.now(), rows.at(-1)!.seq);
        pending -= rows.length;
        sent += rows.length;
        if (failures > 0) options.logger?.info({ pending }, `event relay recovered after ${failures} failed attempts`);
        failures = 0;
        delay = retryMinMs;
        if (Date.now() - lastPurge > 60_000) {
          purge.run(Date.now() - KEEP_SENT_MS);
          lastPurge = Date.now();
        }
      } catch (error) {
        failures++;
        // One line when the remote starts failing, then one every 20 attempts: a long
        // outage should not flood the log.
        if (failures === 1 || failures % 20 === 0) {
          options.logger?.warn({ pending, failures, cause: describeError(error) }, `event relay cannot publish; ${pending} events wait in the outbox`);
        }
        await sleep(delay, undefined, { signal: stop.signal }).catch(() => {});
        delay = Math.min(retryMaxMs, delay * 2);
      }
    }
  }
  const relayDone = relay();

  return {
    publish: async (event) => {
      if (pending >= maxPending) {
        throw new ZonelabError('E_OUTBOX_FULL', `the outbox holds ${pending} unsent events (limit ${maxPending}); is the bus reachable?`);
      }
      try {
        insert.run(event.id, JSON.stringify(event), Date.now());
      } catch (error) {
        throw new ZonelabError('E_OUTBOX', `cannot commit event ${event.id} to the outbox: ${describeError(error)}`, { cause: error });
      }
      pending++;
      wakeRelay();
    },
    stats: () => ({ outboxPending: pending, outboxMax: maxPending, outboxSent: sent }),
    close: async () => {
      stop.abort();
      wakeRelay();
      await relayDone;
      db.close();
      await options.remote.close();
    },
  };
}
