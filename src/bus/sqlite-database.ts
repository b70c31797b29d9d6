import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ZonelabError } from '../errors.js';

export type SqliteDatabase = Database.Database;

export interface EventDatabase {
  db: SqliteDatabase;
  /** Stops the checkpoint timer, checkpoints once more and closes. */
  close(): void;
}

const CHECKPOINT_INTERVAL_MS = 1000;

// `seq` is a plain rowid: rows are never deleted, so it only grows, and it is assigned
// inside the write transaction, so seq order is commit order (what a consumer's position
// relies on). AUTOINCREMENT would add a write per insert for nothing.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  body TEXT NOT NULL,
  committed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS consumers (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  updated_at REAL NOT NULL
);`;

/** Whether an error from better-sqlite3 says the file is not a usable SQLite database. */
function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || code === 'SQLITE_CANTOPEN';
}

/**
 * Opens (and with `create`, creates) a zonelab event database in WAL mode, so several
 * server processes can write it while an audit reads it. `synchronous=NORMAL` makes each
 * commit survive the process being killed (the WAL is in the OS before the commit
 * returns), though not a power cut, at a fraction of the cost of a sync per event.
 * Checkpoints (which do sync) run once a second from a timer instead of inside whichever
 * commit crosses SQLite's page threshold, so a request never waits for one.
 */
export function openEventDatabase(path: string, options: { create: boolean }): EventDatabase {
  // Several servers opening a new file at once: switching it to WAL needs the file to
  // itself, and SQLite answers "locked" at once instead of waiting. Start-up only, so a
  // blocking pause between attempts is fine.
  const deadline = Date.now() + 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return openOnce(path, options);
    } catch (error) {
      const locked = error instanceof ZonelabError && error.code === 'E_BUS_UNAVAILABLE' && /locked|busy/i.test(error.message);
      if (!locked || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(200, 10 * attempt + Math.random() * 20));
    }
  }
}

function openOnce(path: string, options: { create: boolean }): EventDatabase {
  if (!options.create && !existsSync(path)) {
    throw new ZonelabError('E_BUS_NOT_FOUND', `no event database at ${path} (a server with --bus sqlite:${path} creates it)`);
  }
  let db: SqliteDatabase | undefined;
  try {
    if (options.create) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { fileMustExist: !options.create });
    // Writers from several processes wait for each other instead of failing.
    db.pragma('busy_timeout = 10000');
    // Switching to WAL needs the file alone; once one process has done it, it stays WAL.
    if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_autocheckpoint = 0');
    if (options.create) db.exec(SCHEMA);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'consumers')").all();
    if (tables.length !== 2) {
      throw new ZonelabError('E_BUS_CORRUPT', `${path} is an SQLite database but not a zonelab event database`);
    }
    const opened = db;
    const checkpoint = () => {
      try {
        opened.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // Busy or failing: the next tick tries again; commits do not depend on it.
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
    if (error instanceof ZonelabError) throw error;
    if (isCorruption(error)) {
      throw new ZonelabError('E_BUS_CORRUPT', `${path} is not a readable SQLite database (corrupt or another kind of file)`, { cause: error });
    }
    throw new ZonelabError('E_BUS_UNAVAILABLE', `cannot open the event database ${path}: ${(error as Error).message}`, { cause: error });
  }
}
