import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { availableEngines, openSqliteWith, type SqliteEngineName, SqliteError, sqliteEngine, wantedEngine } from '../../src/sqlite/index.js';

const ENGINES: SqliteEngineName[] = ['node:sqlite', 'better-sqlite3'];
// Where Node.js has its own SQLite, better-sqlite3 is not loaded unless ZONELAB_SQLITE names it.
const here = availableEngines();

function isSqliteError(code: string) {
  return (error: unknown) => error instanceof SqliteError && error.sqliteCode === code;
}

describe('SQLite engines on this runtime', () => {
  it(`uses node:sqlite where Node.js has it, else better-sqlite3, unless ZONELAB_SQLITE says (here ${process.version}: ${sqliteEngine()})`, () => {
    assert.ok(here.length > 0, 'at least one engine loads');
    const wanted = wantedEngine();
    assert.equal(sqliteEngine(), wanted ?? here[0]);
    if (wanted !== undefined) return;
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    if (major >= 23 || (major === 22 && minor >= 13)) {
      assert.equal(sqliteEngine(), 'node:sqlite', 'no native addon where the runtime has its own');
      assert.deepEqual(here, ['node:sqlite'], 'better-sqlite3 not even loaded');
    }
    if (major === 20) assert.equal(sqliteEngine(), 'better-sqlite3');
  });
});

for (const engine of ENGINES) {
  describe(`SQLite engine ${engine} (real database files)`, { skip: here.includes(engine) ? false : `${engine} is not used on Node.js ${process.version}` }, () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'zonelab-sqlite-'));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('creates, inserts and reads rows; pragmas give their value', () => {
      const db = openSqliteWith(engine, join(dir, 'rows.db'));
      try {
        assert.equal(db.engine, engine);
        db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
        const insert = db.prepare('INSERT INTO t (name) VALUES (?)');
        assert.equal(Number(insert.run('a').lastInsertRowid), 1);
        insert.run('b');
        assert.deepEqual({ ...db.prepare<{ name: string }>('SELECT name FROM t WHERE id = ?').get(2) }, { name: 'b' });
        assert.deepEqual(db.prepare<{ id: number }>('SELECT id FROM t ORDER BY id').all().map((row) => row.id), [1, 2]);
        assert.equal(db.prepare('SELECT name FROM t WHERE id = ?').get(99), undefined);
        db.pragma('journal_mode = WAL');
        assert.equal(db.pragma('journal_mode'), 'wal');
        assert.equal(db.pragma('busy_timeout = 1234'), 1234);
      } finally {
        db.close();
      }
    });

    it('runs a transaction whole, or not at all when it throws', () => {
      const db = openSqliteWith(engine, join(dir, 'tx.db'));
      try {
        db.exec('CREATE TABLE t (v TEXT UNIQUE)');
        const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
        const insertAll = db.transaction((values: string[]) => {
          for (const value of values) insert.run(value);
        });
        insertAll(['a', 'b']);
        assert.throws(() => insertAll(['c', 'a']), isSqliteError('SQLITE_CONSTRAINT'));
        assert.deepEqual(db.prepare<{ v: string }>('SELECT v FROM t ORDER BY v').all().map((row) => row.v), ['a', 'b'], 'c rolled back with the duplicate');
        insertAll(['d']);
        assert.equal(db.prepare<{ n: number }>('SELECT count(*) AS n FROM t').get()?.n, 3, 'usable after a rollback');
        // Inside another transaction a call is a savepoint: its failure undoes only itself.
        const outer = db.transaction(() => {
          insert.run('e');
          assert.throws(() => insertAll(['f', 'e']), isSqliteError('SQLITE_CONSTRAINT'));
          insert.run('g');
        });
        outer();
        assert.deepEqual(db.prepare<{ v: string }>('SELECT v FROM t ORDER BY v').all().map((row) => row.v), ['a', 'b', 'd', 'e', 'g']);
      } finally {
        db.close();
      }
    });

    it("names SQLite's errors alike: not a database, cannot open, read-only, busy", async () => {
      const notDb = join(dir, 'not-a-db');
      await writeFile(notDb, 'this is text, not SQLite, and long enough to have a header of sorts '.repeat(20));
      assert.throws(() => {
        const db = openSqliteWith(engine, notDb);
        try {
          db.prepare('SELECT * FROM sqlite_master').all();
        } finally {
          db.close();
        }
      }, isSqliteError('SQLITE_NOTADB'));
      assert.throws(() => openSqliteWith(engine, join(dir, 'missing.db'), { readonly: true }), isSqliteError('SQLITE_CANTOPEN'));

      const path = join(dir, 'locks.db');
      const writer = openSqliteWith(engine, path);
      writer.exec('CREATE TABLE t (v)');
      const reader = openSqliteWith(engine, path, { readonly: true });
      const other = openSqliteWith(engine, path);
      try {
        assert.throws(() => reader.exec('INSERT INTO t VALUES (1)'), isSqliteError('SQLITE_READONLY'));
        other.pragma('busy_timeout = 0');
        writer.exec('BEGIN EXCLUSIVE');
        assert.throws(() => other.exec('INSERT INTO t VALUES (2)'), isSqliteError('SQLITE_BUSY'));
        writer.exec('COMMIT');
        other.exec('INSERT INTO t VALUES (2)');
      } finally {
        other.close();
        reader.close();
        writer.close();
      }
    });
  });
}
