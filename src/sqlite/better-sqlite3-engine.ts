import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { type OpenOptions, type SqliteConnection, SqliteError, type SqliteStatement, primaryOfName } from './connection.js';

type BetterSqlite3Module = typeof BetterSqlite3;

const require = createRequire(import.meta.url);

let loaded: BetterSqlite3Module | null | undefined;

/**
 * better-sqlite3, or null where it is not installed (an optional dependency) or its native
 * addon does not load here (built for another Node.js ABI): its JavaScript loads either
 * way, so a database in memory is opened once to be sure.
 */
export function loadBetterSqlite3(): BetterSqlite3Module | null {
  if (loaded !== undefined) return loaded;
  try {
    const Database = require('better-sqlite3') as BetterSqlite3Module;
    new Database(':memory:').close();
    loaded = Database;
  } catch {
    loaded = null;
  }
  return loaded;
}

function translate(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    return new SqliteError((error as Error).message, primaryOfName(code), { cause: error });
  }
  return error;
}

function guarded<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw translate(error);
  }
}

export function openWithBetterSqlite3(Database: BetterSqlite3Module, path: string, options: OpenOptions): SqliteConnection {
  const readonly = options.readonly ?? false;
  // Its default busy timeout (5 s) is set here to none, like node:sqlite's: callers set
  // `busy_timeout` themselves, so both engines wait the same.
  const db = guarded(() => new Database(path, { readonly, fileMustExist: readonly, timeout: 0 }));
  return {
    engine: 'better-sqlite3',
    exec: (sql) => {
      guarded(() => db.exec(sql));
    },
    prepare: <Row>(sql: string): SqliteStatement<Row> => {
      const statement = guarded(() => db.prepare(sql));
      return {
        run: (...params) => guarded(() => statement.run(...params)),
        get: (...params) => guarded(() => statement.get(...params) as Row | undefined),
        all: (...params) => guarded(() => statement.all(...params) as Row[]),
      };
    },
    pragma: (text) => guarded(() => db.pragma(text, { simple: true })),
    transaction: (fn) => {
      const wrapped = db.transaction(fn);
      return (...args) => guarded(() => wrapped(...args));
    },
    close: () => {
      guarded(() => db.close());
    },
  };
}
