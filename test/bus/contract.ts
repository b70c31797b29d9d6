import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import type { EventPublisher, EventSubscriber, ForbiddenEvent } from '../../src/bus/index.js';
import { waitFor } from '../helpers/wait.js';

export interface BusUnderTest {
  publisher: EventPublisher;
  /** A subscriber for the given consumer (a subscription name for Pub/Sub). */
  subscriber(consumer: string): Promise<EventSubscriber>;
  /** Whether the bus keeps publication order for one consumer. */
  ordered: boolean;
  cleanup(): Promise<void>;
}

export function makeEvent(n: number): ForbiddenEvent {
  return {
    id: uuidv7(),
    at: new Date().toISOString(),
    country: n % 2 ? 'Iran' : 'North Korea',
    clientIp: `10.0.${n >> 8}.${n & 255}`,
    method: 'GET',
    path: `/bucket/webdir/${n}.html`,
    zone: 'zone-a',
    instance: 'vm-a',
  };
}

/** Runs a subscriber until it has delivered `count` events (or `timeoutMs`), then stops it. */
export async function collect(subscriber: EventSubscriber, count: number, timeoutMs = 10_000): Promise<ForbiddenEvent[]> {
  const events: ForbiddenEvent[] = [];
  const stop = new AbortController();
  const running = subscriber.run((event) => {
    events.push(event);
  }, stop.signal);
  try {
    await waitFor(() => events.length >= count, timeoutMs, `${count} events delivered`);
  } finally {
    stop.abort();
    await running;
  }
  return events;
}

/** The contract every EventBus adapter keeps. */
export function eventBusContract(name: string, make: () => Promise<BusUnderTest>): void {
  describe(`EventBus contract: ${name}`, () => {
    let bus: BusUnderTest;
    before(async () => {
      bus = await make();
    });
    after(() => bus.cleanup());

    it('delivers every published event once, with every field intact', async () => {
      const published = Array.from({ length: 50 }, (_, n) => makeEvent(n));
      for (const event of published) await bus.publisher.publish(event);
      const subscriber = await bus.subscriber('first');
      const delivered = await collect(subscriber, 50);
      await subscriber.close();
      if (bus.ordered) assert.deepEqual(delivered, published);
      else assert.deepEqual(new Set(delivered.map((e) => JSON.stringify(e))), new Set(published.map((e) => JSON.stringify(e))));
    });

    it('resumes a restarted consumer after what it handled, without delivering it again', async () => {
      const later = Array.from({ length: 10 }, (_, n) => makeEvent(100 + n));
      for (const event of later) await bus.publisher.publish(event);
      const subscriber = await bus.subscriber('first');
      const delivered = await collect(subscriber, 10);
      await subscriber.close();
      assert.deepEqual(delivered.map((e) => e.id).sort(), later.map((e) => e.id).sort());
    });

    it('follows events published while it runs', async () => {
      const subscriber = await bus.subscriber('first');
      const events: ForbiddenEvent[] = [];
      const stop = new AbortController();
      const running = subscriber.run((event) => {
        events.push(event);
      }, stop.signal);
      const live = makeEvent(500);
      await bus.publisher.publish(live);
      await waitFor(() => events.length === 1, 5000, 'live event delivered');
      stop.abort();
      await running;
      await subscriber.close();
      assert.equal(events[0]!.id, live.id);
    });

    it('stops promptly when asked, with nothing to deliver', async () => {
      const subscriber = await bus.subscriber('first');
      const stop = new AbortController();
      const running = subscriber.run(() => {}, stop.signal);
      const started = performance.now();
      stop.abort();
      await running;
      await subscriber.close();
      assert.ok(performance.now() - started < 2000);
    });
  });
}
