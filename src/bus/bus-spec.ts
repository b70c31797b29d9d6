import { ZonelabError } from '../errors.js';

export type BusSpec =
  | { kind: 'sqlite'; dir: string }
  | { kind: 'log' }
  | { kind: 'pubsub-topic'; project: string; topic: string }
  | { kind: 'pubsub-subscription'; project: string; subscription: string };

export const DEFAULT_BUS = 'sqlite:./data/events';

const NAME = '[A-Za-z][-A-Za-z0-9._~+%]{2,254}';
const PROJECT = '[a-z][-a-z0-9:.]{4,62}';

/**
 * Parses a `--bus` value: `sqlite:<folder>` (each server writes a file of its own there),
 * `log` (events only logged),
 * `pubsub:projects/<p>/topics/<t>` or `pubsub:projects/<p>/subscriptions/<s>`.
 */
export function parseBusSpec(text: string): BusSpec {
  const value = text.trim();
  if (value === 'log') return { kind: 'log' };
  if (value.startsWith('sqlite:')) {
    const dir = value.slice('sqlite:'.length);
    if (dir === '') throw new ZonelabError('E_BAD_BUS', '--bus sqlite: needs a folder, e.g. sqlite:./data/events');
    return { kind: 'sqlite', dir };
  }
  const topic = new RegExp(`^pubsub:projects/(${PROJECT})/topics/(${NAME})$`).exec(value);
  if (topic) return { kind: 'pubsub-topic', project: topic[1]!, topic: topic[2]! };
  const subscription = new RegExp(`^pubsub:projects/(${PROJECT})/subscriptions/(${NAME})$`).exec(value);
  if (subscription) return { kind: 'pubsub-subscription', project: subscription[1]!, subscription: subscription[2]! };
  throw new ZonelabError(
    'E_BAD_BUS',
    `--bus "${text}" is not one of sqlite:<folder>, log, pubsub:projects/<project>/topics/<topic>, pubsub:projects/<project>/subscriptions/<subscription>`,
  );
}
