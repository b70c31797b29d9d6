import type { Command } from 'commander';
import { runAudit } from '../audit/index.js';
import { DEFAULT_BUS } from '../bus/index.js';
import { createLogger } from '../log.js';
import { busOption } from './option-parsers.js';

interface AuditFlags {
  bus: string;
  consumer: string;
  json: boolean;
  fromStart: boolean;
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
    .action(async (flags: AuditFlags) => {
      const logger = createLogger({ bindings: { component: 'audit' }, destination: process.stderr });
      const stop = new AbortController();
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        // The first signal lets the event in hand finish; a second one does not wait.
        if (++signals > 1) process.exit(signal === 'SIGINT' ? 130 : 143);
        stop.abort();
      };
      process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
      const printed = await runAudit({ ...flags, signal: stop.signal, logger });
      logger.info({ printed }, `audit stopped after printing ${printed} events`);
    });
}
