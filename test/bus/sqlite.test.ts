import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createSqlitePublisher, createSqliteSubscriber, parseBusSpec } from '../../src/bus/index.js';
import { isZonelabError } from '../../src/errors.js';
import { collect, eventBusContract, makeEvent } from './contract.js';

let counter = 0;
async function tempDb(): Promise<{ path: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'zonelab-bus-'));
  return { path: join(dir, `events-${++counter}.db`), remove: () => rm(dir, { recursive: true, force: true }) };
}

eventBusContract('sqlite (real database file)', async () => {
  const db = await tempDb();
  const publisher = createSqlitePublisher({ path: db.path });
  return {
    publisher,
    ordered: true,
    subscriber: async (consumer) => createSqliteSubscriber({ path: db.path, consumer }),
    cleanup: async () => {
      await publisher.close();
      await db.remove();
    },
  };
});

describe('sqlite bus specifics', () => {
  let db: { path: string; remove: () => Promise<void> };
  before(async () => {
    db = await tempDb();
  });
  after(() => db.remove());

  it('keeps each consumer position apart, and replays from the start when asked', async () => {
    const publisher = createSqlitePublisher({ path: db.path });
    const events = [makeEvent(1), makeEvent(2), makeEvent(3)];
    for (const event of events) await publisher.publish(event);
    await publisher.close();

    const a = createSqliteSubscriber({ path: db.path, consumer: 'a' });
    assert.equal((await collect(a, 3)).length, 3);
    await a.close();
    const b = createSqliteSubscriber({ path: db.path, consumer: 'b' });
    assert.deepEqual((await collect(b, 3)).map((e) => e.id), events.map((e) => e.id));
    await b.close();
    const again = createSqliteSubscriber({ path: db.path, consumer: 'a', fromStart: true });
    assert.deepEqual((await collect(again, 3)).map((e) => e.id), events.map((e) => e.id));
    await again.close();
  });

  it('commits the position after each event, inside the same database', async () => {
    const path = db.path;
    const sqlite = new Database(path, { readonly: true });
    try {
      const row = sqlite.prepare("SELECT position FROM consumers WHERE name = 'a'").get() as { position: number };
      assert.equal(row.position, 3);
    } finally {
      sqlite.close();
    }
  });

  it('refuses a missing database, a corrupt one, and a foreign one, each with its own code', async () => {
    assert.throws(() => createSqliteSubscriber({ path: `${db.path}.missing`, consumer: 'a' }), (e) => isZonelabError(e, 'E_BUS_NOT_FOUND'));
    const corrupt = `${db.path}.corrupt`;
    await writeFile(corrupt, 'this is not a database, just some text long enough to look like a header');
    assert.throws(() => createSqliteSubscriber({ path: corrupt, consumer: 'a' }), (e) => isZonelabError(e, 'E_BUS_CORRUPT'));
    const foreign = `${db.path}.foreign`;
    const other = new Database(foreign);
    other.exec('CREATE TABLE other (x)');
    other.close();
    assert.throws(() => createSqliteSubscriber({ path: foreign, consumer: 'a' }), (e) => isZonelabError(e, 'E_BUS_CORRUPT'));
  });

  it('lets several processes create the same new database at the same moment', async () => {
    const path = `${db.path}.race`;
    const module = new URL('../../src/bus/index.js', import.meta.url).href;
    // Every process waits for the same instant, then opens: the collision start-up produces.
    const startAt = Date.now() + 1500;
    const script = `const { createSqlitePublisher } = await import(${JSON.stringify(module)});
      while (Date.now() < ${startAt}) {}
      const publisher = createSqlitePublisher({ path: ${JSON.stringify(path)} });
      await publisher.publish({ id: crypto.randomUUID(), at: '', country: 'Iran', clientIp: '', method: 'GET', path: '/', zone: 'z', instance: String(process.pid) });
      await publisher.close();`;
    const exits = await Promise.all(
      Array.from({ length: 6 }, () =>
        new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr.on('data', (chunk) => {
            stderr += chunk;
          });
          child.on('exit', (code) => resolve({ code, stderr }));
        }),
      ),
    );
    assert.deepEqual(exits.filter((exit) => exit.code !== 0), [], 'every process opened the database');
    const check = new Database(path, { readonly: true });
    try {
      assert.equal((check.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 6);
    } finally {
      check.close();
    }
  });

  it('refuses a bad consumer name', () => {
    assert.throws(() => createSqliteSubscriber({ path: db.path, consumer: 'a b' }), (e) => isZonelabError(e, 'E_BAD_CONSUMER'));
  });
});

describe('parseBusSpec', () => {
  it('reads every form', () => {
    assert.deepEqual(parseBusSpec('sqlite:./data/events.db'), { kind: 'sqlite', path: './data/events.db' });
    assert.deepEqual(parseBusSpec('log'), { kind: 'log' });
    assert.deepEqual(parseBusSpec('pubsub:projects/my-project/topics/forbidden'), {
      kind: 'pubsub-topic',
      project: 'my-project',
      topic: 'forbidden',
    });
    assert.deepEqual(parseBusSpec('pubsub:projects/my-project/subscriptions/audit'), {
      kind: 'pubsub-subscription',
      project: 'my-project',
      subscription: 'audit',
    });
  });

  for (const bad of ['', 'sqlite:', 'redis://x', 'pubsub:projects/p/topics/t', 'pubsub:topics/t', 'pubsub:projects/my-project/queues/q']) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parseBusSpec(bad), (e) => isZonelabError(e, 'E_BAD_BUS')));
  }
});
