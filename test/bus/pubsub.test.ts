import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createOutboxPublisher, createPubsubRemote, createPubsubSubscriber } from '../../src/bus/index.js';
import { startPubsubStandIn } from '../helpers/pubsub-stand-in.js';
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
    it('runs against a Pub/Sub emulator too when PUBSUB_EMULATOR_HOST names one', { skip: 'PUBSUB_EMULATOR_HOST is not set: no Pub/Sub emulator here' }, () => {});
  });
}

// The same contract against this project's stand-in for the Pub/Sub API (not Google's
// service, nor its emulator): the real client library and adapter, over gRPC on loopback.
eventBusContract('pubsub (stand-in for the Pub/Sub API, through the outbox)', async () => {
  const standIn = await startPubsubStandIn();
  const previous = process.env.PUBSUB_EMULATOR_HOST;
  process.env.PUBSUB_EMULATOR_HOST = standIn.host;
  const project = 'zonelab-test';
  const topicName = `forbidden-${randomUUID()}`;
  standIn.addTopic(project, topicName);
  const dir = await mkdtemp(join(tmpdir(), 'zonelab-pubsub-'));
  const publisher = createOutboxPublisher({ path: join(dir, 'outbox.db'), remote: await createPubsubRemote({ project, topic: topicName }) });
  const subscriptions = new Map<string, string>();
  return {
    publisher,
    ordered: false,
    subscriber: async (consumer) => {
      if (!subscriptions.has(consumer)) {
        const name = `${consumer}-${randomUUID()}`;
        standIn.addSubscription(project, name, topicName);
        subscriptions.set(consumer, name);
      }
      return createPubsubSubscriber({ project, subscription: subscriptions.get(consumer)! });
    },
    cleanup: async () => {
      await publisher.close();
      await standIn.close();
      if (previous === undefined) delete process.env.PUBSUB_EMULATOR_HOST;
      else process.env.PUBSUB_EMULATOR_HOST = previous;
      await rm(dir, { recursive: true, force: true });
    },
  };
});
