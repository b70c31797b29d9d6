import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ZonelabError } from '../errors.js';

export type SqliteDatabase = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
 */
export function openEventDatabase(path: string, options: { create: boolean }): SqliteDatabase {
  if (!options.create && !existsSync(path)) {
    throw new ZonelabError('E_BUS_NOT_FOUND', `no event database at ${path} (a server with --bus sqlite:${path} creates it)`);
  }
  let db: SqliteDatabase | undefined;
  try {
    if (options.create) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { fileMustExist: !options.create });
    // Writers from several processes wait for each other instead of failing.
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    if (options.create) db.exec(SCHEMA);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'consumers')").all();
    if (tables.length !== 2) {
      throw new ZonelabError('E_BUS_CORRUPT', `${path} is an SQLite database but not a zonelab event database`);
    }
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof ZonelabError) throw error;
    if (isCorruption(error)) {
      throw new ZonelabError('E_BUS_CORRUPT', `${path} is not a readable SQLite database (corrupt or another kind of file)`, { cause: error });
    }
    throw new ZonelabError('E_BUS_UNAVAILABLE', `cannot open the event database ${path}: ${(error as Error).message}`, { cause: error });
  }
}
