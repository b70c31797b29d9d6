import { LRUCache } from 'lru-cache';
import { describeError, ZonelabError } from '../errors.js';
import type { Logger } from '../log.js';
import { type EventSubscriber, parseEvent } from './event-bus.js';
import type { RemotePublisher } from './outbox.js';

type PubSubModule = typeof import('@google-cloud/pubsub');

async function loadPubSub(): Promise<PubSubModule> {
  try {
    return await import('@google-cloud/pubsub');
  } catch (error) {
    throw new ZonelabError('E_PUBSUB_UNAVAILABLE', 'the @google-cloud/pubsub package is not installed', { cause: error });
  }
}

/** gRPC's PERMISSION_DENIED, what Pub/Sub answers when a role is missing. */
const PERMISSION_DENIED = 7;

/**
 * One error for a failed Pub/Sub call. `needs` names the permission the call takes and the
 * role that grants it, so a 403 says what to grant instead of Pub/Sub's "User not
 * authorized to perform this action."
 */
function cloudError(what: string, error: unknown, needs?: { permission: string; role: string }): ZonelabError {
  const message = describeError(error);
  if ((error as { code?: unknown }).code === PERMISSION_DENIED || /PERMISSION_DENIED/.test(message)) {
    return new ZonelabError(
      'E_PERMISSION_DENIED',
      needs
        ? `the credentials in use lack ${needs.permission} on ${what} (grant ${needs.role} on it; zonelab gcp up does so for its VMs)`
        : `the credentials in use are not allowed to use ${what}: ${message}`,
      { cause: error },
    );
  }
  if (/credentials|authenticat/i.test(message)) {
    return new ZonelabError(
      'E_PUBSUB_CREDENTIALS',
      `no Google Cloud credentials for ${what} (run "gcloud auth application-default login" or run on a VM with a service account)`,
      { cause: error },
    );
  }
  if (/NOT_FOUND|not found/i.test(message)) return new ZonelabError('E_PUBSUB_NOT_FOUND', `${what} does not exist`, { cause: error });
  return new ZonelabError('E_PUBSUB_UNAVAILABLE', `cannot reach ${what}: ${message}`, { cause: error });
}

/**
 * The relay's remote for `pubsub:projects/<p>/topics/<t>` (the client library is loaded
 * only here). Honours PUBSUB_EMULATOR_HOST (the library does). Missing credentials or a
 * missing topic stop the server at start-up; an unreachable service only delays delivery.
 */
export async function createPubsubRemote(options: { project: string; topic: string; logger?: Logger }): Promise<RemotePublisher> {
  const { PubSub } = await loadPubSub();
  const pubsub = new PubSub({ projectId: options.project });
  const topic = pubsub.topic(options.topic, { batching: { maxMessages: 100, maxMilliseconds: 10 } });
  const name = `topic projects/${options.project}/topics/${options.topic}`;
  try {
    const [exists] = await topic.exists();
    if (!exists) throw new ZonelabError('E_PUBSUB_NOT_FOUND', `${name} does not exist`);
  } catch (error) {
    const problem = error instanceof ZonelabError ? error : cloudError(name, error, { permission: 'pubsub.topics.get', role: 'roles/pubsub.viewer' });
    if (problem.code !== 'E_PUBSUB_UNAVAILABLE') {
      // The caller may try again (a role still on its way): this client is not kept.
      await pubsub.close().catch(() => {});
      throw problem;
    }
    // The outbox keeps every event until the service is back.
    options.logger?.warn({ cause: problem.message }, `${name} cannot be checked now; events wait in the outbox`);
  }
  return {
    publish: async (events) => {
      await Promise.all(
        events.map((event) => topic.publishMessage({ data: Buffer.from(JSON.stringify(event)), attributes: { id: event.id } })),
      );
    },
    close: async () => {
      await topic.flush().catch(() => {});
      await pubsub.close();
    },
  };
}

export interface PubsubSubscriberOptions {
  project: string;
  subscription: string;
  /** How many recent event ids are remembered to drop redelivered duplicates; default 100000. */
  dedupWindow?: number;
  logger?: Logger;
}

/**
 * `pubsub:projects/<p>/subscriptions/<s>`: each message is handed over (printed), then
 * acknowledged; a message Pub/Sub delivers again (it delivers at least once) is dropped
 * when its id is among the last `dedupWindow` ids seen, and acknowledged.
 */
export async function createPubsubSubscriber(options: PubsubSubscriberOptions): Promise<EventSubscriber> {
  const { PubSub } = await loadPubSub();
  const pubsub = new PubSub({ projectId: options.project });
  const name = `subscription projects/${options.project}/subscriptions/${options.subscription}`;
  const subscription = pubsub.subscription(options.subscription, { flowControl: { maxMessages: 100, allowExcessMessages: false } });
  try {
    const [exists] = await subscription.exists();
    if (!exists) throw new ZonelabError('E_PUBSUB_NOT_FOUND', `${name} does not exist`);
  } catch (error) {
    await pubsub.close().catch(() => {});
    throw error instanceof ZonelabError ? error : cloudError(name, error, { permission: 'pubsub.subscriptions.get', role: 'roles/pubsub.viewer' });
  }
  const seen = new LRUCache<string, true>({ max: options.dedupWindow ?? 100_000 });

  return {
    run: (handler, signal) =>
      new Promise<void>((resolve, reject) => {
        subscription.on('message', (message) => {
          let event: ReturnType<typeof parseEvent>;
          try {
            event = parseEvent(message.data.toString());
          } catch (error) {
            // It can never be printed as an event: say so and let it go.
            options.logger?.error({ messageId: message.id, cause: describeError(error) }, 'malformed message dropped');
            message.ack();
            return;
          }
          if (!seen.has(event.id)) {
            handler(event, { committedAt: message.publishTime.getTime() });
            seen.set(event.id, true);
          }
          message.ack();
        });
        subscription.on('error', (error) => reject(cloudError(name, error)));
        // The library opens its pull streams asynchronously and fetches its gRPC client
        // lazily: closing before it has fetched it leaves a client made after the close,
        // open until the pull deadline (5 minutes), which keeps the process alive. A request
        // of our own goes through the same lazy fetch, so once it has returned, that fetch
        // has too.
        const stop = () =>
          subscription
            .getMetadata()
            .catch(() => {})
            .then(() => subscription.close())
            .then(resolve, reject);
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      }),
    close: async () => {
      await subscription.close().catch(() => {});
      await pubsub.close();
    },
  };
}
