import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { openSqlite } from '../../src/sqlite/index.js';
import { createSqlitePublisher, createSqliteSubscriber, eventFileOf, parseBusSpec } from '../../src/bus/index.js';
import { isZonelabError } from '../../src/errors.js';
import { waitFor } from '../helpers/wait.js';
import { collect, eventBusContract, makeEvent } from './contract.js';

async function tempFolder(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'zonelab-bus-'));
  return { dir: join(dir, 'events'), remove: () => rm(dir, { recursive: true, force: true }) };
}

eventBusContract('sqlite (real database files)', async () => {
  const folder = await tempFolder();
  const publisher = createSqlitePublisher({ dir: folder.dir, instance: 'vm-a' });
  return {
    publisher,
    ordered: true,
    subscriber: async (consumer) => createSqliteSubscriber({ dir: folder.dir, consumer }),
    cleanup: async () => {
      await publisher.close();
      await folder.remove();
    },
  };
});

describe('sqlite bus specifics', () => {
  let folder: { dir: string; remove: () => Promise<void> };
  before(async () => {
    folder = await tempFolder();
  });
  after(() => folder.remove());

  it('keeps each consumer position apart, and replays from the start when asked', async () => {
    const publisher = createSqlitePublisher({ dir: folder.dir, instance: 'vm-a' });
    const events = [makeEvent(1), makeEvent(2), makeEvent(3)];
    for (const event of events) await publisher.publish(event);
    await publisher.close();

    const a = createSqliteSubscriber({ dir: folder.dir, consumer: 'a' });
    assert.equal((await collect(a, 3)).length, 3);
    await a.close();
    const b = createSqliteSubscriber({ dir: folder.dir, consumer: 'b' });
    assert.deepEqual((await collect(b, 3)).map((e) => e.id), events.map((e) => e.id));
    await b.close();
    const again = createSqliteSubscriber({ dir: folder.dir, consumer: 'a', fromStart: true });
    assert.deepEqual((await collect(again, 3)).map((e) => e.id), events.map((e) => e.id));
    await again.close();
  });

  it('commits positions to the consumer\'s own file and never writes a server\'s file', async () => {
    const positions = openSqlite(join(folder.dir, 'a.positions.db'), { readonly: true });
    try {
      const row = positions.prepare("SELECT position FROM positions WHERE source = 'vm-a.events.db'").get() as { position: number };
      assert.equal(row.position, 3);
    } finally {
      positions.close();
    }
    const events = openSqlite(eventFileOf(folder.dir, 'vm-a'), { readonly: true });
    try {
      const tables = events.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      assert.deepEqual(tables.map((t) => t.name), ['events']);
    } finally {
      events.close();
    }
  });

  it('follows every server\'s file, including one that appears while it runs (fan-in)', async () => {
    const fanIn = `${folder.dir}-fan-in`;
    const early = createSqlitePublisher({ dir: fanIn, instance: 'early' });
    const earlyEvents = [makeEvent(10), makeEvent(11)];
    for (const event of earlyEvents) await early.publish(event);
    const subscriber = createSqliteSubscriber({ dir: fanIn, consumer: 'fan', scanMs: 50 });
    const delivered: string[] = [];
    const stop = new AbortController();
    const running = subscriber.run((event) => {
      delivered.push(event.id);
    }, stop.signal);
    const late = createSqlitePublisher({ dir: fanIn, instance: 'late' });
    const lateEvents = [makeEvent(12), makeEvent(13), makeEvent(14)];
    for (const event of lateEvents) await late.publish(event);
    await early.publish(makeEvent(15));
    try {
      await waitFor(() => delivered.length >= 6, 10_000, 'six events delivered');
    } finally {
      stop.abort();
      await running;
      await Promise.all([subscriber.close(), early.close(), late.close()]);
    }
    assert.equal(new Set(delivered).size, 6, 'each event once');
    for (const event of [...earlyEvents, ...lateEvents]) assert.ok(delivered.includes(event.id));
    assert.deepEqual(
      delivered.filter((id) => lateEvents.some((e) => e.id === id)),
      lateEvents.map((e) => e.id),
      'one server\'s events in its order',
    );
  });

  it('refuses a missing folder, a file given as the folder, a corrupt event file and a foreign one, each with its own code', async () => {
    assert.throws(() => createSqliteSubscriber({ dir: `${folder.dir}.missing`, consumer: 'a' }), (e) => isZonelabError(e, 'E_BUS_NOT_FOUND'));
    const file = `${folder.dir}.file`;
    await writeFile(file, '');
    assert.throws(() => createSqliteSubscriber({ dir: file, consumer: 'a' }), (e) => isZonelabError(e, 'E_BAD_BUS'));
    const corruptDir = `${folder.dir}.corrupt`;
    await mkdir(corruptDir);
    await writeFile(join(corruptDir, 'x.events.db'), 'this is not a database, just some text long enough to look like a header');
    assert.throws(() => createSqliteSubscriber({ dir: corruptDir, consumer: 'a' }), (e) => isZonelabError(e, 'E_BUS_CORRUPT'));
    const foreignDir = `${folder.dir}.foreign`;
    await mkdir(foreignDir);
    const other = openSqlite(join(foreignDir, 'x.events.db'));
    other.exec('CREATE TABLE other (x)');
    other.close();
    assert.throws(() => createSqliteSubscriber({ dir: foreignDir, consumer: 'a' }), (e) => isZonelabError(e, 'E_BUS_CORRUPT'));
  });

  it('lets several servers create the same new folder at the same moment, each with its own file', async () => {
    const dir = `${folder.dir}-race`;
    const module = new URL('../../src/bus/index.js', import.meta.url).href;
    // Every process waits for the same instant, then opens: the collision start-up produces.
    const startAt = Date.now() + 1500;
    const script = `const { createSqlitePublisher } = await import(${JSON.stringify(module)});
      while (Date.now() < ${startAt}) {}
      const publisher = createSqlitePublisher({ dir: ${JSON.stringify(dir)}, instance: 'vm-' + process.pid });
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
    assert.deepEqual(exits.filter((exit) => exit.code !== 0), [], 'every process opened its file');
    const subscriber = createSqliteSubscriber({ dir, consumer: 'count' });
    try {
      assert.equal((await collect(subscriber, 6)).length, 6);
    } finally {
      await subscriber.close();
    }
  });

  it('refuses a second subscriber of the same consumer at once, and lets it in after the first closed', async () => {
    const first = createSqliteSubscriber({ dir: folder.dir, consumer: 'only-one' });
    try {
      assert.throws(() => createSqliteSubscriber({ dir: folder.dir, consumer: 'only-one' }), (e) => isZonelabError(e, 'E_CONSUMER_BUSY'));
    } finally {
      await first.close();
    }
    const second = createSqliteSubscriber({ dir: folder.dir, consumer: 'only-one' });
    await second.close();
  });

  it('refuses a bad consumer name', () => {
    assert.throws(() => createSqliteSubscriber({ dir: folder.dir, consumer: 'a b' }), (e) => isZonelabError(e, 'E_BAD_CONSUMER'));
  });
});

describe('parseBusSpec', () => {
  it('reads every form', () => {
    assert.deepEqual(parseBusSpec('sqlite:./data/events'), { kind: 'sqlite', dir: './data/events' });
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
