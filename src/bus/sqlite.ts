import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZonelabError } from '../errors.js';
import { type EventPublisher, type EventSubscriber, type ForbiddenEvent, parseEvent } from './event-bus.js';
import { openEventSource, openOwnDatabase, type SqliteDatabase } from './sqlite-database.js';

const EVENT_FILE_SUFFIX = '.events.db';
const POSITIONS_FILE_SUFFIX = '.positions.db';

/** The file a server writes its events to, inside the event folder: one per instance. */
export function eventFileOf(dir: string, instance: string): string {
  return join(dir, `${instance.replace(/[^\w.-]/g, '_')}${EVENT_FILE_SUFFIX}`);
}

export interface SqlitePublisherOptions {
  /** The event folder; created when missing. */
  dir: string;
  /** This server's instance name: it names the file only this server writes. */
  instance: string;
}

interface Pending {
  event: ForbiddenEvent;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * `publish` resolves once the event's INSERT is committed to this server's own file, so no
 * other process (another zone's server, a frozen one included) can hold a lock it waits
 * for. Events published in the same turn of the event loop (concurrent requests) share
 * one transaction: fewer commits, the same guarantee for each.
 */
export function createSqlitePublisher(options: SqlitePublisherOptions): EventPublisher {
  const path = eventFileOf(options.dir, options.instance);
  const { db, close } = openOwnDatabase(path, 'events');
  const insert = db.prepare('INSERT INTO events (id, body, committed_at) VALUES (?, ?, ?)');
  const insertAll = db.transaction((items: Pending[], now: number) => {
    for (const item of items) insert.run(item.event.id, JSON.stringify(item.event), now);
  });
  let queue: Pending[] = [];

  function failure(event: ForbiddenEvent, error: unknown): ZonelabError {
    return new ZonelabError('E_BUS_WRITE', `cannot commit event ${event.id} to ${path}: ${(error as Error).message}`, { cause: error });
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
  /** The event folder the servers write to. */
  dir: string;
  /** The consumer's name; its positions are kept in `<dir>/<consumer>.positions.db`, a file of its own. */
  consumer: string;
  /** Start again from the first event of every server instead of the saved positions. */
  fromStart?: boolean;
  /** How often to look for new events when there are none, in ms; default 5 (a query per server file, a few µs). */
  pollMs?: number;
  /** How often to look for event files of servers started since, in ms; default 500. */
  scanMs?: number;
}

interface Source {
  name: string;
  db: SqliteDatabase;
  readBatch: (position: number) => { seq: number; body: string; committed_at: number }[];
  position: number;
}

/**
 * A named consumer of every server's event file in the folder (fan-in). A server seen for
 * the first time is read from its first event, so nothing committed before the audit
 * started is missed. After each event is handled its position is committed to the
 * consumer's own positions file, so after a crash only the event being handled at that
 * instant can be delivered again.
 */
export function createSqliteSubscriber(options: SqliteSubscriberOptions): EventSubscriber {
  if (!/^[\w.-]{1,100}$/.test(options.consumer)) {
    throw new ZonelabError('E_BAD_CONSUMER', `consumer name "${options.consumer}" must be 1–100 letters, digits, '.', '_' or '-'`);
  }
  const isFolder = (() => {
    try {
      return statSync(options.dir).isDirectory();
    } catch {
      return null;
    }
  })();
  if (isFolder === null) {
    throw new ZonelabError('E_BUS_NOT_FOUND', `no event folder at ${options.dir} (servers with --bus sqlite:${options.dir} create it)`);
  }
  if (!isFolder) throw new ZonelabError('E_BAD_BUS', `--bus sqlite:${options.dir} is a file: it takes the folder the servers write their event files to`);

  const positions = openOwnDatabase(join(options.dir, `${options.consumer}${POSITIONS_FILE_SUFFIX}`), 'positions');
  const readPosition = positions.db.prepare<{ position: number }>('SELECT position FROM positions WHERE source = ?');
  const savePosition = positions.db.prepare(
    'INSERT INTO positions (source, position, updated_at) VALUES (?, ?, ?) ON CONFLICT(source) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at',
  );
  const sources = new Map<string, Source>();
  const pollMs = options.pollMs ?? 5;
  const scanMs = options.scanMs ?? 500;

  function scan(): void {
    for (const name of readdirSync(options.dir)) {
      if (!name.endsWith(EVENT_FILE_SUFFIX) || sources.has(name)) continue;
      const db = openEventSource(join(options.dir, name));
      const statement = db.prepare<{ seq: number; body: string; committed_at: number }>(
        'SELECT seq, body, committed_at FROM events WHERE seq > ? ORDER BY seq LIMIT 256',
      );
      const position = options.fromStart ? 0 : (readPosition.get(name)?.position ?? 0);
      sources.set(name, { name, db, readBatch: (after) => statement.all(after), position });
    }
  }
  scan();
  let lastScan = Date.now();

  return {
    run: async (handler, signal) => {
      while (!signal.aborted) {
        if (Date.now() - lastScan >= scanMs) {
          scan();
          lastScan = Date.now();
        }
        let delivered = 0;
        // One batch per server in turn: a busy server does not starve a quiet one.
        for (const source of sources.values()) {
          for (const row of source.readBatch(source.position)) {
            let event: ForbiddenEvent;
            try {
              event = parseEvent(row.body);
            } catch (error) {
              throw new ZonelabError('E_BUS_CORRUPT', `event #${row.seq} in ${join(options.dir, source.name)} is malformed: ${(error as Error).message}`);
            }
            handler(event, { committedAt: row.committed_at });
            source.position = row.seq;
            savePosition.run(source.name, row.seq, Date.now());
            delivered++;
            if (signal.aborted) return;
          }
        }
        if (delivered === 0) await sleep(pollMs, undefined, { signal }).catch(() => {});
      }
    },
    close: async () => {
      for (const source of sources.values()) source.db.close();
      positions.close();
    },
  };
}
