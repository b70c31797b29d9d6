export { type OpenOptions, type SqlValue, type SqliteConnection, type SqliteEngineName, SqliteError, type SqliteStatement } from './connection.js';
export { availableEngines, openSqlite, openSqliteWith, sqliteEngine, wantedEngine } from './open.js';
