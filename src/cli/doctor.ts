import { tmpdir } from 'node:os';
import type { Command } from 'commander';
import { addressChecks, chromiumCheck, gcloudChecks, lbChecks, networkFaultCheck, nodeCheck, renderChecks, sqliteCheck } from '../doctor/index.js';
import type { LbDriverKind } from '../lb/index.js';
import { lbOption } from './spec-options.js';
import { processRunner } from '../gcp/index.js';
import { examples } from './examples.js';
import { listenOption, parsePort } from './option-parsers.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .summary('check every prerequisite and say how to fix what is missing')
    .description(
      'checks what each part needs: Node.js, SQLite, the load balancer of --lb (required) and the others, free addresses (the default job), root and nftables (network faults, the passthrough balancer), ' +
        'Chromium (report --pdf, browser tests), gcloud, its login and project (zonelab gcp). Prints each with its exact fix; ' +
        'exits 1 when something the default job needs is missing. Changes nothing.',
    )
    .addOption(listenOption('the load balancer address to check'))
    .option('--port <n>', "the servers' port to check (on 127.0.1.1 and 127.0.1.2)", parsePort, 8080)
    .option('--project <id>', 'also check that gcloud can see this Google Cloud project')
    .addOption(lbOption())
    .addHelpText(
      'after',
      examples([
        ['is this machine ready for zonelab?', 'zonelab doctor'],
        ['and for the passthrough balancer?', 'zonelab doctor --lb passthrough'],
        ['and for zonelab gcp in project my-course-123?', 'zonelab doctor --project my-course-123'],
      ]),
    )
    .action(async (flags: { listen: { host: string; port: number }; port: number; project?: string; lb: LbDriverKind }) => {
      const checks = [
        nodeCheck(),
        sqliteCheck(),
        ...lbChecks(flags.lb),
        ...(await addressChecks(flags.listen, flags.port)),
        networkFaultCheck(),
        chromiumCheck(),
        ...(await gcloudChecks(processRunner(tmpdir()), flags.project ?? null)),
      ];
      console.log(renderChecks(checks));
      if (checks.some((check) => check.required && !check.ok)) process.exitCode = 1;
    });
}
