import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * A stand-in for the Cloud Pub/Sub gRPC API on loopback (not Google's service), reached
 * through PUBSUB_EMULATOR_HOST with the real client library, with Google's own service
 * definitions: GetTopic, Publish, GetSubscription, StreamingPull (each published message
 * goes to one open stream of each subscription of its topic; one that no stream had is
 * kept until a stream opens), Acknowledge and ModifyAckDeadline. It checks IAM as Pub/Sub
 * does: a call whose permission is not granted answers PERMISSION_DENIED ("User not
 * authorized to perform this action."), which is all Pub/Sub says. Unacknowledged messages
 * are not delivered again.
 */
export interface PubsubStandIn {
  /** The value for PUBSUB_EMULATOR_HOST. */
  readonly host: string;
  /** Permissions the caller holds (`pubsub.topics.get`, …); null: every permission. */
  granted: Set<string> | null;
  /**
   * A grant on its way, as IAM's propagation delay makes it: every call that needs a
   * permission is refused (PERMISSION_DENIED) until this many ms after the first such call. 0: none.
   */
  grantDelayMs: number;
  /** Calls refused while the grant was on its way. */
  refusedBeforeGrant: number;
  /** Messages published, by topic name (`projects/p/topics/t`). */
  readonly published: Map<string, { data: Buffer; attributes: Record<string, string> }[]>;
  /** Ack ids acknowledged, in order. */
  readonly acked: string[];
  addTopic(project: string, topic: string): void;
  addSubscription(project: string, subscription: string, topic: string): void;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const PROTO_DIRS = [
  join(dirname(require.resolve('@google-cloud/pubsub')), '..', 'protos'),
  join(dirname(require.resolve('google-gax')), '..', 'protos'),
];

type Callback = grpc.sendUnaryData<unknown>;
type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>;
type PullStream = grpc.ServerDuplexStream<Record<string, unknown>, unknown>;

interface Delivery {
  ackId: string;
  message: { data: Buffer; attributes: Record<string, string>; messageId: string; publishTime: { seconds: number; nanos: number } };
  deliveryAttempt: number;
}

export async function startPubsubStandIn(): Promise<PubsubStandIn> {
  const definition = protoLoader.loadSync('google/pubsub/v1/pubsub.proto', { includeDirs: PROTO_DIRS, defaults: true, oneofs: true });
  const v1 = (grpc.loadPackageDefinition(definition) as unknown as { google: { pubsub: { v1: Record<string, { service: grpc.ServiceDefinition }> } } }).google.pubsub.v1;
  const topics = new Set<string>();
  const subscriptions = new Map<string, string>();
  const published = new Map<string, { data: Buffer; attributes: Record<string, string> }[]>();
  const acked: string[] = [];
  // Per subscription: messages no stream has had yet, and the open streams (in turn).
  const waiting = new Map<string, Delivery[]>();
  const streams = new Map<string, PullStream[]>();
  let nextId = 0;

  function deliver(subscription: string): void {
    const open = streams.get(subscription) ?? [];
    const queue = waiting.get(subscription) ?? [];
    while (open.length > 0 && queue.length > 0) {
      const stream = open.shift()!;
      open.push(stream);
      stream.write({ receivedMessages: queue.splice(0, queue.length) });
    }
  }

  const standIn: PubsubStandIn = {
    host: '',
    granted: null,
    grantDelayMs: 0,
    refusedBeforeGrant: 0,
    published,
    acked,
    addTopic: (project, topic) => void topics.add(`projects/${project}/topics/${topic}`),
    addSubscription: (project, subscription, topic) => void subscriptions.set(`projects/${project}/subscriptions/${subscription}`, `projects/${project}/topics/${topic}`),
    close: async () => {},
  };

  /** Answers as Pub/Sub does: a missing permission first (it does not say whether the resource exists), then NOT_FOUND. */
  let firstAskedAt: number | null = null;
  /** Whether the caller holds `permission` now: granted, and not still on its way. */
  function holds(permission: string): boolean {
    if (standIn.grantDelayMs > 0) {
      firstAskedAt ??= Date.now();
      if (Date.now() - firstAskedAt < standIn.grantDelayMs) {
        standIn.refusedBeforeGrant++;
        return false;
      }
    }
    return standIn.granted === null || standIn.granted.has(permission);
  }

  function check(permission: string, exists: boolean, name: string, callback: Callback): boolean {
    if (!holds(permission)) {
      callback({ code: grpc.status.PERMISSION_DENIED, details: 'User not authorized to perform this action.' });
      return false;
    }
    if (!exists) {
      callback({ code: grpc.status.NOT_FOUND, details: `Resource not found (resource=${name.slice(name.lastIndexOf('/') + 1)}).` });
      return false;
    }
    return true;
  }

  const server = new grpc.Server();
  server.addService(v1.Publisher!.service, {
    CreateTopic: (call: Call, callback: Callback) => {
      const name = String(call.request.name);
      if (!check('pubsub.topics.create', true, name, callback)) return;
      if (topics.has(name)) return callback({ code: grpc.status.ALREADY_EXISTS, details: 'Resource already exists in the project (resource=topic).' });
      topics.add(name);
      callback(null, { name });
    },
    DeleteTopic: (call: Call, callback: Callback) => {
      const name = String(call.request.topic);
      if (check('pubsub.topics.delete', topics.has(name), name, callback)) {
        topics.delete(name);
        callback(null, {});
      }
    },
    GetTopic: (call: Call, callback: Callback) => {
      const name = String(call.request.topic);
      if (check('pubsub.topics.get', topics.has(name), name, callback)) callback(null, { name });
    },
    Publish: (call: Call, callback: Callback) => {
      const name = String(call.request.topic);
      if (!check('pubsub.topics.publish', topics.has(name), name, callback)) return;
      const messages = (call.request.messages as { data: Buffer; attributes: Record<string, string> }[]) ?? [];
      const list = published.get(name) ?? [];
      published.set(name, list);
      const now = Date.now();
      const messageIds = messages.map((message) => {
        list.push({ data: Buffer.from(message.data), attributes: { ...message.attributes } });
        const messageId = String(++nextId);
        for (const [subscription, topic] of subscriptions) {
          if (topic !== name) continue;
          const queue = waiting.get(subscription) ?? [];
          waiting.set(subscription, queue);
          queue.push({
            ackId: `${subscription}#${messageId}`,
            message: { data: Buffer.from(message.data), attributes: { ...message.attributes }, messageId, publishTime: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 } },
            deliveryAttempt: 1,
          });
        }
        return messageId;
      });
      callback(null, { messageIds });
      for (const subscription of subscriptions.keys()) deliver(subscription);
    },
  });
  server.addService(v1.Subscriber!.service, {
    CreateSubscription: (call: Call, callback: Callback) => {
      const name = String(call.request.name);
      const topic = String(call.request.topic);
      if (!check('pubsub.subscriptions.create', topics.has(topic), topic, callback)) return;
      if (subscriptions.has(name)) return callback({ code: grpc.status.ALREADY_EXISTS, details: 'Resource already exists in the project (resource=subscription).' });
      subscriptions.set(name, topic);
      callback(null, { name, topic, ackDeadlineSeconds: Number(call.request.ackDeadlineSeconds) || 10 });
    },
    GetSubscription: (call: Call, callback: Callback) => {
      const name = String(call.request.subscription);
      if (check('pubsub.subscriptions.get', subscriptions.has(name), name, callback)) callback(null, { name, topic: subscriptions.get(name), ackDeadlineSeconds: 60 });
    },
    Acknowledge: (call: Call, callback: Callback) => {
      const name = String(call.request.subscription);
      if (!check('pubsub.subscriptions.consume', subscriptions.has(name), name, callback)) return;
      acked.push(...((call.request.ackIds as string[]) ?? []));
      callback(null, {});
    },
    ModifyAckDeadline: (call: Call, callback: Callback) => {
      const name = String(call.request.subscription);
      if (check('pubsub.subscriptions.consume', subscriptions.has(name), name, callback)) callback(null, {});
    },
    StreamingPull: (stream: PullStream) => {
      let subscription: string | null = null;
      const drop = () => {
        if (subscription === null) return;
        const open = streams.get(subscription) ?? [];
        open.splice(open.indexOf(stream), 1);
      };
      stream.on('data', (request: Record<string, unknown>) => {
        if (subscription === null) {
          const name = String(request.subscription);
          const refused = (code: grpc.status, details: string) => stream.destroy(Object.assign(new Error(details), { code, details }));
          if (!holds('pubsub.subscriptions.consume')) return refused(grpc.status.PERMISSION_DENIED, 'User not authorized to perform this action.');
          if (!subscriptions.has(name)) return refused(grpc.status.NOT_FOUND, `Resource not found (resource=${name}).`);
          subscription = name;
          streams.set(name, [...(streams.get(name) ?? []), stream]);
          deliver(name);
        }
        acked.push(...((request.ackIds as string[] | undefined) ?? []));
      });
      stream.on('end', () => {
        drop();
        stream.end();
      });
      stream.on('cancelled', drop);
      stream.on('error', drop);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  Object.assign(standIn, {
    host: `127.0.0.1:${port}`,
    close: async () => server.forceShutdown(),
  });
  return standIn;
}
