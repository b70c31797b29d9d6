#!/usr/bin/env node
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { describeError, isZonelabError } from '../errors.js';
import { registerAudit } from './audit.js';
import { registerBucket } from './bucket.js';
import { registerClient } from './client.js';
import { registerDoctor } from './doctor.js';
import { registerFailover } from './failover.js';
import { registerGcp } from './gcp.js';
import { registerLab } from './lab.js';
import { registerServe } from './serve.js';
import { INTERRUPTED_EXIT_CODE } from './signals.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const program = new Command('zonelab')
  .description('run a web service in several zones behind a load balancer and measure failover')
  .version(version)
  .showHelpAfterError('(run with --help for usage)');

// What ps and pgrep show: `zonelab failover`, `zonelab lab up` (serve and audit name their instance).
program.hook('preAction', (_program, action) => {
  // serve, audit and the prober name themselves; a generic title first would, for a moment,
  // hide what the lab recognises them by (the instance, the prober's configuration).
  if (action.name() === 'serve' || action.name() === 'audit' || action.name() === 'prober') return;
  const names: string[] = [];
  for (let command: typeof action | null = action; command && command !== program; command = command.parent) names.unshift(command.name());
  process.title = `zonelab ${names.join(' ')}`;
});

registerBucket(program);
registerServe(program);
registerAudit(program);
registerClient(program);
registerLab(program);
registerFailover(program);
registerGcp(program);
registerDoctor(program);

program.parseAsync().catch((error: unknown) => {
  // A user's mistake (bad bucket, folder not empty …) is one line; anything else is a bug
  // and keeps its stack so it can be reported.
  if (isZonelabError(error)) {
    process.stderr.write(`zonelab: ${error.message}\n`);
    process.exit(error.code === 'E_INTERRUPTED' ? INTERRUPTED_EXIT_CODE : 1);
  }
  process.stderr.write(`zonelab: unexpected failure: ${describeError(error)}\n${error instanceof Error ? error.stack : ''}\n`);
  process.exit(70);
});
