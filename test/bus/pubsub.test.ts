import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createOutboxPublisher, createPubsubRemote, createPubsubSubscriber } from '../../src/bus/index.js';
import { eventBusContract } from './contract.js';

// Google Cloud cannot be reached from the test machines; the Pub/Sub adapter runs the
// shared contract only against an emulator (gcloud beta emulators pubsub start).
const emulator = process.env.PUBSUB_EMULATOR_HOST;

if (emulator) {
  eventBusContract(`pubsub (emulator at ${emulator}, through the outbox)`, async () => {
    const { PubSub } = await import('@google-cloud/pubsub');
    const project = 'zonelab-test';
    const pubsub = new PubSub({ projectId: project });
    const topicName = `forbidden-${randomUUID()}`;
    const [topic] = await pubsub.createTopic(topicName);
    const subscriptions = new Map<string, string>();
    const dir = await mkdtemp(join(tmpdir(), 'zonelab-pubsub-'));
    const publisher = createOutboxPublisher({ path: join(dir, 'outbox.db'), remote: await createPubsubRemote({ project, topic: topicName }) });
    return {
      publisher,
      ordered: false,
      subscriber: async (consumer) => {
        if (!subscriptions.has(consumer)) {
          const name = `${consumer}-${randomUUID()}`;
          await topic.createSubscription(name);
          subscriptions.set(consumer, name);
        }
        return createPubsubSubscriber({ project, subscription: subscriptions.get(consumer)! });
      },
      cleanup: async () => {
        await publisher.close();
        await topic.delete().catch(() => {});
        await pubsub.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
} else {
  describe('EventBus contract: pubsub', () => {
    it('runs only against a Pub/Sub emulator', { skip: 'PUBSUB_EMULATOR_HOST is not set: no Pub/Sub emulator here' }, () => {});
  });
}
