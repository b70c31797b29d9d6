import { tmpdir } from 'node:os';
import type { Command } from 'commander';
import { addressChecks, chromiumCheck, gcloudChecks, haproxyCheck, networkFaultCheck, nodeCheck, renderChecks, sqliteCheck } from '../doctor/index.js';
import { processRunner } from '../gcp/index.js';
import { examples } from './examples.js';
import { listenOption, parsePort } from './option-parsers.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .summary('check every prerequisite and say how to fix what is missing')
    .description(
      'checks what each part needs: Node.js, HAProxy and free addresses (the default job), root and nftables (network faults), ' +
        'Chromium (report --pdf, browser tests), gcloud, its login and project (zonelab gcp). Prints each with its exact fix; ' +
        'exits 1 when something the default job needs is missing. Changes nothing.',
    )
    .addOption(listenOption('the load balancer address to check'))
    .option('--port <n>', "the servers' port to check (on 127.0.1.1 and 127.0.1.2)", parsePort, 8080)
    .option('--project <id>', 'also check that gcloud can see this Google Cloud project')
    .addHelpText(
      'after',
      examples([
        ['is this machine ready for zonelab?', 'zonelab doctor'],
        ['and for zonelab gcp in project my-course-123?', 'zonelab doctor --project my-course-123'],
      ]),
    )
    .action(async (flags: { listen: { host: string; port: number }; port: number; project?: string }) => {
      const checks = [
        nodeCheck(),
        sqliteCheck(),
        haproxyCheck(),
        ...(await addressChecks(flags.listen, flags.port)),
        networkFaultCheck(),
        chromiumCheck(),
        ...(await gcloudChecks(processRunner(tmpdir()), flags.project ?? null)),
      ];
      console.log(renderChecks(checks));
      if (checks.some((check) => check.required && !check.ok)) process.exitCode = 1;
    });
}
