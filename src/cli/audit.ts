import type { Command } from 'commander';
import { runAudit } from '../audit/index.js';
import { DEFAULT_BUS } from '../bus/index.js';
import { createLogger } from '../log.js';
import { examples } from './examples.js';
import { interruptible } from './signals.js';
import { busOption, numberIn, usageError } from './option-parsers.js';

interface AuditFlags {
  bus: string;
  consumer: string;
  json: boolean;
  fromStart: boolean;
  accessWait: number;
}

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .summary('app 2: print one line per forbidden (400) request, each exactly once')
    .description(
      'app 2: print one line per request the servers refused for export control, following new ones as ' +
        'they come. Every event is printed once per named consumer, across restarts. SIGTERM/SIGINT finish ' +
        'the event in hand and exit 0. Diagnostics go to standard error as JSON lines.',
    )
    .option('--bus <spec>', 'sqlite:<folder> (follows every server\'s event file in it) or pubsub:projects/<p>/subscriptions/<s>', busOption, DEFAULT_BUS)
    .option('--consumer <name>', 'consumer name; its position is kept (sqlite) so a restart resumes', 'audit')
    .option('--json', 'one JSON object per line instead of text', false)
    .option('--from-start', 'print every event again from the first one (sqlite)', false)
    .option(
      '--access-wait <s>',
      'seconds to keep trying, with a log line each time, while Pub/Sub refuses this machine\'s credentials (a role just granted takes minutes to arrive; the VMs use 600); 0: stop at the first refusal',
      numberIn(0, 3600),
      0,
    )
    .addHelpText(
      'after',
      examples([
        ['follow the events the lab\'s servers write', 'zonelab audit --bus sqlite:./data/lab/events'],
        ['every event again, from the first one, as JSON', 'zonelab audit --bus sqlite:./data/lab/events --from-start --json'],
      ]),
    )
    .action(async (flags: AuditFlags, self: Command) => {
      if (flags.fromStart && flags.bus.startsWith('pubsub:')) {
        usageError(self, '--from-start works with sqlite only (a Pub/Sub subscription is replayed with "gcloud pubsub subscriptions seek")');
      }
      process.title = `zonelab audit ${flags.consumer}`;
      const logger = createLogger({ bindings: { component: 'audit' }, destination: process.stderr });
      // The first signal lets the event in hand finish (exit 0: a service's normal stop); a second one does not wait.
      const stop = interruptible();
      const printed = await runAudit({ ...flags, accessWaitSeconds: flags.accessWait, signal: stop.signal, logger });
      stop.release();
      logger.info({ printed }, `audit stopped after printing ${printed} events`);
    });
}
