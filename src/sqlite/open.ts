import { ZonelabError } from '../errors.js';
import { openWithBetterSqlite3, loadBetterSqlite3 } from './better-sqlite3-engine.js';
import type { OpenOptions, SqliteConnection, SqliteEngineName } from './connection.js';
import { loadNodeSqlite, openWithNodeSqlite } from './node-engine.js';

/**
 * The engine this process uses: Node.js's own `node:sqlite` wherever the runtime has it
 * (Node 22.13 and later: the VMs' Node 24, today's Node 26), else better-sqlite3 (Node
 * 20). better-sqlite3 12 is built on the raw `node::ObjectWrap`, whose destructor aborts the
 * process under Node 24.19 and later headers when the garbage collector finalizes a
 * statement (https://github.com/nodejs/node/issues/65446); its version 13, which does not,
 * needs Node 22. node:sqlite has no native addon to build, so no headers to match.
 * `ZONELAB_SQLITE=better-sqlite3` (or `node:sqlite`) picks one for the whole process, for
 * tests and comparisons.
 */
export function sqliteEngine(): SqliteEngineName {
  return chooseEngine().name;
}

let chosen: ReturnType<typeof pick> | undefined;

function pick(wanted: string | undefined) {
  if (wanted !== undefined && wanted !== '' && wanted !== 'node:sqlite' && wanted !== 'better-sqlite3') {
    throw new ZonelabError('E_BAD_ARGUMENT', `ZONELAB_SQLITE=${wanted}: expected node:sqlite or better-sqlite3`);
  }
  if (wanted !== 'better-sqlite3') {
    const sqlite = loadNodeSqlite();
    if (sqlite) return { name: 'node:sqlite' as const, open: (path: string, options: OpenOptions) => openWithNodeSqlite(sqlite, path, options) };
    if (wanted === 'node:sqlite') throw new ZonelabError('E_NO_SQLITE', `ZONELAB_SQLITE=node:sqlite, but Node.js ${process.version} has no node:sqlite (22.13 and later do)`);
  }
  const Database = loadBetterSqlite3();
  if (Database) return { name: 'better-sqlite3' as const, open: (path: string, options: OpenOptions) => openWithBetterSqlite3(Database, path, options) };
  throw new ZonelabError(
    'E_NO_SQLITE',
    `no SQLite engine: Node.js ${process.version} has no node:sqlite (22.13 and later do) and better-sqlite3 is not installed or does not load here (npm install better-sqlite3@12 builds it)`,
  );
}

/** The engine `ZONELAB_SQLITE` names, or undefined. */
export function wantedEngine(): string | undefined {
  return process.env.ZONELAB_SQLITE?.trim() || undefined;
}

function chooseEngine() {
  chosen ??= pick(wantedEngine());
  return chosen;
}

/**
 * The engines this process may use, the default first. better-sqlite3 is not even loaded
 * where Node.js has its own SQLite, unless `ZONELAB_SQLITE` names it: loading it there is
 * what can abort the process.
 */
export function availableEngines(): SqliteEngineName[] {
  const own = loadNodeSqlite() !== null;
  const addon = (!own || wantedEngine() === 'better-sqlite3') && loadBetterSqlite3() !== null;
  return [...(own ? ['node:sqlite' as const] : []), ...(addon ? ['better-sqlite3' as const] : [])];
}

/** Opens with a named engine (for tests that hold both engines to one behaviour). */
export function openSqliteWith(engine: SqliteEngineName, path: string, options: OpenOptions = {}): SqliteConnection {
  if (engine === 'node:sqlite') {
    const sqlite = loadNodeSqlite();
    if (!sqlite) throw new ZonelabError('E_NO_SQLITE', `Node.js ${process.version} has no node:sqlite`);
    return openWithNodeSqlite(sqlite, path, options);
  }
  const Database = loadBetterSqlite3();
  if (!Database) throw new ZonelabError('E_NO_SQLITE', 'better-sqlite3 is not installed or does not load here');
  return openWithBetterSqlite3(Database, path, options);
}

/** Opens (creating it unless `readonly`) the SQLite file at `path` with this process's engine. */
export function openSqlite(path: string, options: OpenOptions = {}): SqliteConnection {
  return chooseEngine().open(path, options);
}
