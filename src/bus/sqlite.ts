import { setTimeout as sleep } from 'node:timers/promises';
import { ZonelabError } from '../errors.js';
import { type EventPublisher, type EventSubscriber, type ForbiddenEvent, parseEvent } from './event-bus.js';
import { openEventDatabase } from './sqlite-database.js';

export interface SqlitePublisherOptions {
  /** The database file; created (with its folder) when missing. */
  path: string;
}

interface Pending {
  event: ForbiddenEvent;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * `publish` resolves once the event's INSERT is committed. Events published in the same
 * turn of the event loop (concurrent requests) share one transaction: fewer commits, the
 * same guarantee for each.
 */
export function createSqlitePublisher(options: SqlitePublisherOptions): EventPublisher {
  const { db, close } = openEventDatabase(options.path, { create: true });
  const insert = db.prepare('INSERT INTO events (id, body, committed_at) VALUES (?, ?, ?)');
  const insertAll = db.transaction((items: Pending[], now: number) => {
    for (const item of items) insert.run(item.event.id, JSON.stringify(item.event), now);
  });
  let queue: Pending[] = [];

  function failure(event: ForbiddenEvent, error: unknown): ZonelabError {
    return new ZonelabError('E_BUS_WRITE', `cannot commit event ${event.id} to ${options.path}: ${(error as Error).message}`, {
      cause: error,
    });
  }

  function flush(): void {
    const items = queue;
    queue = [];
    try {
      insertAll(items, Date.now());
      for (const item of items) item.resolve();
    } catch {
      // One bad event must not sink the others: commit them one by one to find it.
      for (const item of items) {
        try {
          insert.run(item.event.id, JSON.stringify(item.event), Date.now());
          item.resolve();
        } catch (error) {
          item.reject(failure(item.event, error));
        }
      }
    }
  }

  return {
    publish: (event) =>
      new Promise<void>((resolve, reject) => {
        if (queue.push({ event, resolve, reject }) === 1) setImmediate(flush);
      }),
    stats: () => ({}),
    close: async () => {
      if (queue.length > 0) flush();
      close();
    },
  };
}

export interface SqliteSubscriberOptions {
  path: string;
  /** The consumer's name; its position is kept in the same database. */
  consumer: string;
  /** Start again from the first event instead of the saved position. */
  fromStart?: boolean;
  /** How often to look for new events when there are none, in ms; default 25. */
  pollMs?: number;
}

/**
 * A named consumer of the event table. A consumer seen for the first time starts at the
 * first event, so nothing committed before the audit started is missed. After each event
 * is handled its position is committed, so after a crash only the event being handled at
 * that instant can be delivered again.
 */
export function createSqliteSubscriber(options: SqliteSubscriberOptions): EventSubscriber {
  if (!/^[\w.-]{1,100}$/.test(options.consumer)) {
    throw new ZonelabError('E_BAD_CONSUMER', `consumer name "${options.consumer}" must be 1–100 letters, digits, '.', '_' or '-'`);
  }
  const { db, close } = openEventDatabase(options.path, { create: false });
  const readPosition = db.prepare<[string], { position: number }>('SELECT position FROM consumers WHERE name = ?');
  const savePosition = db.prepare(
    'INSERT INTO consumers (name, position, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at',
  );
  const readBatch = db.prepare<[number], { seq: number; body: string; committed_at: number }>(
    'SELECT seq, body, committed_at FROM events WHERE seq > ? ORDER BY seq LIMIT 256',
  );
  let position = options.fromStart ? 0 : (readPosition.get(options.consumer)?.position ?? 0);
  const pollMs = options.pollMs ?? 25;

  return {
    run: async (handler, signal) => {
      while (!signal.aborted) {
        const rows = readBatch.all(position);
        for (const row of rows) {
          let event: ReturnType<typeof parseEvent>;
          try {
            event = parseEvent(row.body);
          } catch (error) {
            throw new ZonelabError('E_BUS_CORRUPT', `event #${row.seq} in ${options.path} is malformed: ${(error as Error).message}`);
          }
          handler(event, { committedAt: row.committed_at });
          position = row.seq;
          savePosition.run(options.consumer, position, Date.now());
          if (signal.aborted) return;
        }
        if (rows.length === 0) await sleep(pollMs, undefined, { signal }).catch(() => {});
      }
    },
    close: async () => {
      close();
    },
  };
}
