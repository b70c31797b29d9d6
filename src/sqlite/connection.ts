/** A value SQLite binds or returns: what both engines agree on. */
export type SqlValue = string | number | bigint | null | Uint8Array;

export interface SqliteStatement<Row = unknown> {
  run(...params: SqlValue[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: SqlValue[]): Row | undefined;
  all(...params: SqlValue[]): Row[];
}

/**
 * One open SQLite database, whichever engine opened it: the few calls zonelab makes, with
 * one behaviour. Errors from SQLite are `SqliteError`s with SQLite's own code name.
 */
export interface SqliteConnection {
  /** Which engine serves it: `node:sqlite` (Node.js's own) or `better-sqlite3`. */
  readonly engine: SqliteEngineName;
  exec(sql: string): void;
  prepare<Row = unknown>(sql: string): SqliteStatement<Row>;
  /** Runs `PRAGMA <text>` and returns the first column of the first row it gives (or undefined). */
  pragma(text: string): unknown;
  /**
   * Wraps `fn` so each call runs inside one transaction, rolled back when `fn` throws; a
   * call inside another transaction is a savepoint of it, rolled back alone.
   */
  transaction<Args extends unknown[]>(fn: (...args: Args) => void): (...args: Args) => void;
  close(): void;
}

export type SqliteEngineName = 'node:sqlite' | 'better-sqlite3';

export interface OpenOptions {
  /** Open without writing (the file must exist); default false. */
  readonly?: boolean;
}

/**
 * An error SQLite reported, with its primary result code's name (`SQLITE_BUSY`,
 * `SQLITE_NOTADB`, …): the engines spell these differently, callers compare this one.
 */
export class SqliteError extends Error {
  readonly sqliteCode: string;
  constructor(message: string, sqliteCode: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SqliteError';
    this.sqliteCode = sqliteCode;
  }
}

// SQLite's primary result codes, all of them (https://www.sqlite.org/rescode.html): the low
// byte of an extended code. node:sqlite gives the number, better-sqlite3 the (extended) name.
const PRIMARY_CODES: Record<number, string> = {
  1: 'SQLITE_ERROR',
  2: 'SQLITE_INTERNAL',
  3: 'SQLITE_PERM',
  4: 'SQLITE_ABORT',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  7: 'SQLITE_NOMEM',
  8: 'SQLITE_READONLY',
  9: 'SQLITE_INTERRUPT',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  12: 'SQLITE_NOTFOUND',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  15: 'SQLITE_PROTOCOL',
  16: 'SQLITE_EMPTY',
  17: 'SQLITE_SCHEMA',
  18: 'SQLITE_TOOBIG',
  19: 'SQLITE_CONSTRAINT',
  20: 'SQLITE_MISMATCH',
  21: 'SQLITE_MISUSE',
  22: 'SQLITE_NOLFS',
  23: 'SQLITE_AUTH',
  24: 'SQLITE_FORMAT',
  25: 'SQLITE_RANGE',
  26: 'SQLITE_NOTADB',
  27: 'SQLITE_NOTICE',
  28: 'SQLITE_WARNING',
  100: 'SQLITE_ROW',
  101: 'SQLITE_DONE',
};

/** The primary code name of SQLite's result code `code` (`SQLITE_BUSY` for 517 too). */
export function sqliteCodeName(code: number): string {
  return PRIMARY_CODES[code & 0xff] ?? `SQLITE_${code & 0xff}`;
}

/** The primary code name of an extended name (`SQLITE_BUSY_SNAPSHOT` → `SQLITE_BUSY`). */
export function primaryOfName(name: string): string {
  const primary = Object.values(PRIMARY_CODES).filter((code) => name === code || name.startsWith(`${code}_`));
  return primary.sort((a, b) => b.length - a.length)[0] ?? name;
}
