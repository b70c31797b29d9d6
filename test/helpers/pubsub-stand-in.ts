import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * A stand-in for the Cloud Pub/Sub gRPC API on loopback (not Google's service), reached
 * through PUBSUB_EMULATOR_HOST with the real client library: GetTopic, Publish and
 * GetSubscription, with Google's own service definitions. It checks IAM as Pub/Sub does:
 * a call whose permission is not granted answers PERMISSION_DENIED ("User not authorized
 * to perform this action."), which is all Pub/Sub says.
 */
export interface PubsubStandIn {
  /** The value for PUBSUB_EMULATOR_HOST. */
  readonly host: string;
  /** Permissions the caller holds (`pubsub.topics.get`, …); null: every permission. */
  granted: Set<string> | null;
  /** Messages published, by topic name (`projects/p/topics/t`). */
  readonly published: Map<string, { data: Buffer; attributes: Record<string, string> }[]>;
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

export async function startPubsubStandIn(): Promise<PubsubStandIn> {
  const definition = protoLoader.loadSync('google/pubsub/v1/pubsub.proto', { includeDirs: PROTO_DIRS, defaults: true, oneofs: true });
  const v1 = (grpc.loadPackageDefinition(definition) as unknown as { google: { pubsub: { v1: Record<string, { service: grpc.ServiceDefinition }> } } }).google.pubsub.v1;
  const topics = new Set<string>();
  const subscriptions = new Map<string, string>();
  const published = new Map<string, { data: Buffer; attributes: Record<string, string> }[]>();

  const standIn: PubsubStandIn = {
    host: '',
    granted: null,
    published,
    addTopic: (project, topic) => void topics.add(`projects/${project}/topics/${topic}`),
    addSubscription: (project, subscription, topic) => void subscriptions.set(`projects/${project}/subscriptions/${subscription}`, `projects/${project}/topics/${topic}`),
    close: async () => {},
  };

  /** Answers as Pub/Sub does: a missing permission first (it does not say whether the resource exists), then NOT_FOUND. */
  function check(permission: string, exists: boolean, name: string, callback: Callback): boolean {
    if (standIn.granted !== null && !standIn.granted.has(permission)) {
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
      const messageIds = messages.map((message) => String(list.push({ data: Buffer.from(message.data), attributes: { ...message.attributes } })));
      callback(null, { messageIds });
    },
  });
  server.addService(v1.Subscriber!.service, {
    GetSubscription: (call: Call, callback: Callback) => {
      const name = String(call.request.subscription);
      if (check('pubsub.subscriptions.get', subscriptions.has(name), name, callback)) callback(null, { name, topic: subscriptions.get(name), ackDeadlineSeconds: 60 });
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
