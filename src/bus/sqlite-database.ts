import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ZonelabError } from '../errors.js';
import { openSqlite, type SqliteConnection, SqliteError } from '../sqlite/index.js';

export type SqliteDatabase = SqliteConnection;

export interface EventDatabase {
  db: SqliteDatabase;
  /** Stops the checkpoint timer, checkpoints once more and closes. */
  close(): void;
}

const CHECKPOINT_INTERVAL_MS = 1000;

// `seq` is a plain rowid: rows are never deleted, so it only grows, and it is assigned
// inside the write transaction, so seq order is commit order (what a consumer's position
// relies on). AUTOINCREMENT would add a write per insert for nothing.
const EVENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  body TEXT NOT NULL,
  committed_at REAL NOT NULL
);`;

const POSITIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS positions (
  source TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  updated_at REAL NOT NULL
);`;

/** Whether an error from SQLite says the file is not a usable SQLite database. */
function isCorruption(error: unknown): boolean {
  if (!(error instanceof SqliteError)) return false;
  return error.sqliteCode === 'SQLITE_NOTADB' || error.sqliteCode === 'SQLITE_CORRUPT' || error.sqliteCode === 'SQLITE_CANTOPEN';
}

function openFailure(path: string, error: unknown): ZonelabError {
  if (error instanceof ZonelabError) return error;
  if (isCorruption(error)) {
    return new ZonelabError('E_BUS_CORRUPT', `${path} is not a readable SQLite database (corrupt or another kind of file)`, { cause: error });
  }
  return new ZonelabError('E_BUS_UNAVAILABLE', `cannot open the event database ${path}: ${(error as Error).message}`, { cause: error });
}

/**
 * Opens (creating when missing) a file only this process writes: a server's event file or
 * an audit's positions file. WAL mode lets readers of other processes read while it
 * writes, without either waiting for the other. `synchronous=NORMAL` makes each commit
 * survive the process being killed (the WAL is in the OS before the commit returns),
 * though not a power cut, at a fraction of the cost of a sync per event. Checkpoints
 * (which do sync) run once a second from a timer instead of inside whichever commit
 * crosses SQLite's page threshold, so a request never waits for one.
 */
export function openOwnDatabase(path: string, kind: 'events' | 'positions'): EventDatabase {
  let db: SqliteDatabase | undefined;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = openSqlite(path);
    // Nobody else writes an event file; the wait only matters if a second server was
    // (wrongly) given the same instance name. A positions file is held exclusively (below):
    // a second audit of the same consumer is refused at once instead.
    db.pragma(kind === 'events' ? 'busy_timeout = 10000' : 'busy_timeout = 0');
    // Each printed event commits one position: with the smallest page, a commit appends
    // 0.5 KB to the WAL instead of 4 KB (a new file only; an existing one keeps its size).
    if (kind === 'positions') db.pragma('page_size = 512');
    if (db.pragma('journal_mode') !== 'wal') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_autocheckpoint = 0');
    // Nobody else ever reads an audit's positions while it runs: holding the file
    // exclusively spares the shared-memory locks of every commit (one per printed event),
    // and a second audit with the same consumer name is refused instead of interleaving.
    if (kind === 'positions') db.pragma('locking_mode = EXCLUSIVE');
    db.exec(kind === 'events' ? EVENTS_SCHEMA : POSITIONS_SCHEMA);
    // Takes the write lock now, which exclusive mode then keeps until close.
    if (kind === 'positions') db.exec('BEGIN IMMEDIATE; COMMIT');
    const opened = db;
    const checkpoint = () => {
      try {
        opened.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // Failing: the next tick tries again; commits do not depend on it.
      }
    };
    const timer = setInterval(checkpoint, CHECKPOINT_INTERVAL_MS).unref();
    return {
      db: opened,
      close: () => {
        clearInterval(timer);
        checkpoint();
        opened.close();
      },
    };
  } catch (error) {
    db?.close();
    const busy = error instanceof SqliteError && (error.sqliteCode === 'SQLITE_BUSY' || error.sqliteCode === 'SQLITE_LOCKED');
    if (kind === 'positions' && (busy || /locked|busy/i.test((error as Error).message))) {
      throw new ZonelabError('E_CONSUMER_BUSY', `another audit with the same consumer name holds ${path}: give this one its own --consumer`, { cause: error });
    }
    throw openFailure(path, error);
  }
}

/**
 * Opens another process's event file read-only. A read-only reader of a WAL database holds
 * no lock its writer ever waits for, never checkpoints and never deletes the WAL, so a
 * server is never slowed, let alone stopped, by the audit following it.
 */
export function openEventSource(path: string): SqliteDatabase {
  if (!existsSync(path)) throw new ZonelabError('E_BUS_NOT_FOUND', `no event file at ${path}`);
  let db: SqliteDatabase | undefined;
  try {
    db = openSqlite(path, { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'").all();
    if (tables.length !== 1) throw new ZonelabError('E_BUS_CORRUPT', `${path} is an SQLite database but not a zonelab event file`);
    return db;
  } catch (error) {
    db?.close();
    throw openFailure(path, error);
  }
}
