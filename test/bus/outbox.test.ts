import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createOutboxPublisher, type ForbiddenEvent, type RemotePublisher } from '../../src/bus/index.js';
import { isZonelabError } from '../../src/errors.js';
import { waitFor } from '../helpers/wait.js';
import { makeEvent } from './contract.js';

/** An in-process stand-in for the Pub/Sub topic: accepts batches, or fails while `down`. */
function standInRemote(): RemotePublisher & { received: ForbiddenEvent[]; down: boolean; attempts: number } {
  const remote = {
    received: [] as ForbiddenEvent[],
    down: false,
    attempts: 0,
    publish: async (events: ForbiddenEvent[]) => {
      remote.attempts++;
      if (remote.down) throw new Error('stand-in remote is down');
      remote.received.push(...events);
    },
    close: async () => {},
  };
  return remote;
}

describe('outbox relay (real SQLite outbox, in-process stand-in publisher)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-outbox-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('relays every event in order when the remote is up', async (t) => {
    const remote = standInRemote();
    const outbox = createOutboxPublisher({ path: join(dir, 'up.db'), remote });
    t.after(() => outbox.close());
    const events = Array.from({ length: 250 }, (_, n) => makeEvent(n));
    for (const event of events) await outbox.publish(event);
    await waitFor(() => remote.received.length === 250, 5000, 'all relayed');
    assert.deepEqual(remote.received.map((e) => e.id), events.map((e) => e.id));
    await waitFor(() => outbox.stats().outboxPending === 0, 2000, 'outbox drained');
  });

  it('keeps events while the remote fails and delivers them all once it recovers', async (t) => {
    const remote = standInRemote();
    remote.down = true;
    const outbox = createOutboxPublisher({ path: join(dir, 'down.db'), remote, retryMinMs: 10, retryMaxMs: 40 });
    t.after(() => outbox.close());
    const events = Array.from({ length: 30 }, (_, n) => makeEvent(n));
    for (const event of events) await outbox.publish(event);
    await waitFor(() => remote.attempts >= 3, 5000, 'several failed attempts');
    assert.equal(outbox.stats().outboxPending, 30);
    assert.equal(remote.received.length, 0);
    remote.down = false;
    await waitFor(() => remote.received.length === 30, 5000, 'delivered after recovery');
    assert.deepEqual(remote.received.map((e) => e.id), events.map((e) => e.id));
  });

  it('sends what a previous process left unsent when it starts again', async (t) => {
    const path = join(dir, 'restart.db');
    const first = standInRemote();
    first.down = true;
    const before = createOutboxPublisher({ path, remote: first, retryMinMs: 10 });
    let beforeClosed = false;
    t.after(() => (beforeClosed ? undefined : before.close()));
    const events = [makeEvent(1), makeEvent(2)];
    for (const event of events) await before.publish(event);
    await before.close();
    beforeClosed = true;
    const second = standInRemote();
    const afterRestart = createOutboxPublisher({ path, remote: second });
    t.after(() => afterRestart.close());
    assert.equal(afterRestart.stats().outboxPending, 2);
    await waitFor(() => second.received.length === 2, 5000, 'backlog sent after restart');
    assert.deepEqual(second.received.map((e) => e.id), events.map((e) => e.id));
  });

  it('refuses new events once the backlog reaches its bound', async (t) => {
    const remote = standInRemote();
    remote.down = true;
    const outbox = createOutboxPublisher({ path: join(dir, 'full.db'), remote, maxPending: 3, retryMinMs: 10 });
    t.after(() => outbox.close());
    for (let n = 0; n < 3; n++) await outbox.publish(makeEvent(n));
    await assert.rejects(outbox.publish(makeEvent(4)), (e) => isZonelabError(e, 'E_OUTBOX_FULL'));
    assert.deepEqual(outbox.stats(), { outboxPending: 3, outboxMax: 3, outboxSent: 0 });
  });
});
