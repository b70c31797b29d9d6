import { createRequire } from 'node:module';
import { type OpenOptions, type SqlValue, type SqliteConnection, SqliteError, type SqliteStatement, sqliteCodeName } from './connection.js';

// node:sqlite's types are not in @types/node 20; the few members used here, as documented
// at https://nodejs.org/api/sqlite.html.
interface NodeStatement {
  run(...params: SqlValue[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}
interface NodeDatabase {
  exec(sql: string): void;
  prepare(sql: string): NodeStatement;
  close(): void;
  readonly isTransaction?: boolean;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string, options?: { readOnly?: boolean }) => NodeDatabase;
}

const require = createRequire(import.meta.url);

/**
 * node:sqlite, or null where this Node.js lacks it (Node 20, and 22 before 22.13 without
 * --experimental-sqlite). Node 22 warns that it is experimental the first time it loads;
 * that one warning says nothing a user can act on and is left out.
 */
export function loadNodeSqlite(): NodeSqliteModule | null {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (/SQLite is an experimental feature/.test(String(warning))) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return require('node:sqlite') as NodeSqliteModule;
  } catch {
    return null;
  } finally {
    process.emitWarning = emitWarning;
  }
}

function translate(error: unknown): unknown {
  const details = error as { code?: unknown; errcode?: unknown; message?: unknown };
  if (details.code === 'ERR_SQLITE_ERROR' && typeof details.errcode === 'number') {
    return new SqliteError(String(details.message), sqliteCodeName(details.errcode), { cause: error });
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

export function openWithNodeSqlite(sqlite: NodeSqliteModule, path: string, options: OpenOptions): SqliteConnection {
  const db = guarded(() => new sqlite.DatabaseSync(path, { readOnly: options.readonly ?? false }));
  // Transactions this connection's wrappers have open (isTransaction, which would say so for
  // any, is newer than node:sqlite itself).
  let open = 0;
  const prepare = <Row>(sql: string): SqliteStatement<Row> => {
    const statement = guarded(() => db.prepare(sql));
    return {
      run: (...params) => guarded(() => statement.run(...params)),
      get: (...params) => guarded(() => statement.get(...params) as Row | undefined),
      all: (...params) => guarded(() => statement.all(...params) as Row[]),
    };
  };
  return {
    engine: 'node:sqlite',
    exec: (sql) => guarded(() => db.exec(sql)),
    prepare,
    pragma: (text) => {
      const row = guarded(() => db.prepare(`PRAGMA ${text}`).get()) as Record<string, unknown> | undefined;
      return row === undefined ? undefined : Object.values(row)[0];
    },
    transaction: (fn) => {
      // As better-sqlite3 does: a call inside an open transaction is a savepoint of it.
      return (...args) => {
        const nested = open > 0 || db.isTransaction === true;
        const name = `zonelab_${open}`;
        guarded(() => db.exec(nested ? `SAVEPOINT ${name}` : 'BEGIN'));
        open++;
        try {
          fn(...args);
          guarded(() => db.exec(nested ? `RELEASE ${name}` : 'COMMIT'));
        } catch (error) {
          try {
            // A failed COMMIT may already have ended the transaction: then nothing is left.
            db.exec(nested ? `ROLLBACK TO ${name}; RELEASE ${name}` : 'ROLLBACK');
          } catch {
            // Nothing left to roll back.
          }
          throw error;
        } finally {
          open--;
        }
      };
    },
    close: () => guarded(() => db.close()),
  };
}
