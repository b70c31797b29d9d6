import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_BUS } from '../bus/index.js';
import { createLogger, type Logger } from '../log.js';
import { type RunningServer, resolveWorkers, type ServeOptions, type ServerWorkers, serve, serveWithWorkers, serveWorker, type WorkersFlag, workerSetup } from '../server/index.js';
import { MAX_DEFAULT_CACHE_MB } from '../storage/index.js';
import { busOption, integerIn, nonEmpty, numberIn, parsePort } from './option-parsers.js';
import { examples } from './examples.js';
import { exitCodeOf, interruptible } from './signals.js';

interface ServeFlags {
  bucket: string;
  host: string;
  port: number;
  zone?: string;
  instance?: string;
  metadataWait: number;
  accessWait: number;
  drainSeconds: number;
  cacheMb: number | 'auto';
  revalidateSeconds: number;
  accessLog: boolean;
  allowHead: boolean;
  bus: string;
  outbox?: string;
  control?: string;
  workers: WorkersFlag;
}

const workersInteger = integerIn(1, 256);
function workersOption(value: string): WorkersFlag {
  if (value.trim() === 'auto') return 'auto';
  try {
    return workersInteger(value);
  } catch {
    throw new InvalidArgumentError('expected auto or an integer from 1 to 256.');
  }
}

const cacheMbInteger = integerIn(0, 1_048_576);
function cacheMbOption(value: string): number | 'auto' {
  if (value.trim() === 'auto') return 'auto';
  try {
    return cacheMbInteger(value);
  } catch {
    throw new InvalidArgumentError('expected auto or an integer from 0 to 1048576.');
  }
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .summary('app 1: serve the bucket with zone headers, health checks and graceful drain')
    .description(
      'app 1: serve the bucket\'s objects, with X-Zone and X-Instance on every response. ' +
        'GET /<bucket>/<object> or /<object>; other methods 501 (HEAD too, as the assignment lists it, unless --allow-head); ' +
        'forbidden X-country 400; objects under _zonelab/ (deployment files) 404; ' +
        'missing 404; GET /healthz 200 (503 while draining). SIGTERM/SIGINT drain, a second one exits at once. ' +
        'Logs are JSON lines in Cloud Logging\'s structured format on standard output.',
    )
    .option('--bucket <dir|gs://name[/prefix]>', 'local bucket folder or Cloud Storage bucket', './data/bucket')
    .option('--host <addr>', 'address to listen on', '0.0.0.0')
    .option('--port <n>', 'port to listen on (0: any free port)', parsePort, 8080)
    .option('--zone <zone>', 'zone to report (default: $ZONE, else the GCE metadata server, else "local")', nonEmpty('--zone'))
    .option('--instance <name>', 'instance name to report (default: the GCE metadata server, else the hostname)', nonEmpty('--instance'))
    .option(
      '--metadata-wait <s>',
      'on Google Cloud, seconds to keep asking the metadata server for the zone and VM name before refusing to start (off Google Cloud one short ask, then "local" and the hostname)',
      numberIn(1, 3600),
      60,
    )
    .option(
      '--access-wait <s>',
      'seconds to keep trying, with a log line each time, while Cloud Storage or Pub/Sub refuse this machine\'s credentials (a role just granted takes minutes to arrive; the VMs use 600); 0: stop at the first refusal',
      numberIn(0, 3600),
      0,
    )
    .option('--drain-seconds <s>', 'seconds to keep serving after SIGTERM while /healthz answers 503', numberIn(0, 3600), 3)
    .option(
      '--cache-mb <n|auto>',
      `MiB the object cache may take in memory, objects and remembered misses together (auto: an eighth of the machine's or the cgroup's memory, at most ${MAX_DEFAULT_CACHE_MB}; 0: no cache)`,
      cacheMbOption,
      'auto',
    )
    .option('--revalidate-seconds <s>', 'seconds a cached object is served before the bucket is asked whether it changed', numberIn(0.001, 86_400), 30)
    .option(
      '--bus <spec>',
      'where refused (400) requests are reported: sqlite:<folder> (this server writes <folder>/<instance>.events.db), pubsub:projects/<p>/topics/<t>, or log (only logged)',
      busOption,
      DEFAULT_BUS,
    )
    .option('--outbox <file>', 'with a Pub/Sub bus: the local SQLite outbox events wait in (default ./data/outbox-<instance>.db)')
    .option('--control <socket>', 'unix socket (created with mode 0600) through which the lab injects gray faults: latency, errors, health-fail, flap')
    .option(
      '--workers <n|auto>',
      'processes that serve the port together, each a whole server (drain, gray faults, its own event writer) under one identity and one control socket (auto: one per core; the cache is shared out among them)',
      workersOption,
      1,
    )
    .option('--access-log', 'log every request, not only refused and failed ones', false)
    .option('--allow-head', 'answer HEAD like GET without the body, as RFC 9110 says (default: 501, as the assignment says)', false)
    .addHelpText(
      'after',
      examples([
        ['the bucket in ./data/bucket on port 8080, as zone us-east1-b', 'zonelab serve --zone us-east1-b --instance vm1'],
        ['one worker per core, all serving port 8080', 'zonelab serve --zone us-east1-b --instance vm1 --workers auto'],
        ['a Cloud Storage bucket, the zone from the metadata server (on a VM)', 'zonelab serve --bucket gs://my-course-bucket --bus pubsub:projects/my-course-123/topics/zonelab-forbidden'],
      ]),
    )
    .action(async (flags: ServeFlags) => {
      const setup = workerSetup();
      if (setup) return runWorker(flags, setup);
      const workers = resolveWorkers(flags.workers);
      if (workers > 1) return runPrimary(flags, workers);
      return runSingle(flags);
    });
}

function serveOptions(flags: ServeFlags, logger: Logger): ServeOptions {
  return { ...flags, metadataWaitSeconds: flags.metadataWait, accessWaitSeconds: flags.accessWait, logger };
}

/**
 * Installed before start-up, so a signal that arrives while the bucket or the zone is still
 * being looked up ends the process cleanly too. The first signal (or `drain()`) stops the
 * server gracefully and exits 0 (a service's normal stop); a second signal exits at once.
 */
function stopOnSignal(logger: Logger, what: string, stop: () => Promise<void>): { started(): void; drain(): void; fail(reason: string): void } {
  let started = false;
  let stopping = false;
  // exitCode: 0 for a normal stop; 1 when the server stops because it cannot go on, so a supervisor (systemd's Restart=on-failure) sees a failure.
  const drain = (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${reason}: ${what}`);
    stop().then(
      () => process.exit(exitCode),
      (error: unknown) => {
        logger.error({ cause: String(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  interruptible(undefined, (signal) => {
    if (!started) {
      logger.warn(`${signal} during start-up: exiting at once`);
      process.exit(exitCodeOf(signal));
    }
    drain(`${signal} received`);
  });
  return {
    started: () => (started = true),
    drain: () => (started ? drain('asked to drain by the primary') : process.exit(0)),
    fail: (reason) => drain(reason, 1),
  };
}

async function runSingle(flags: ServeFlags): Promise<void> {
  // What ps and pgrep show (the lab also knows its servers by it).
  process.title = `zonelab serve ${flags.instance ?? ''}`.trim();
  const logger = createLogger({ bindings: { component: 'serve' } });
  let running: RunningServer | undefined;
  const stopper = stopOnSignal(logger, `draining for ${flags.drainSeconds} s`, () => running!.shutdown());
  running = await serve(serveOptions(flags, logger));
  stopper.started();
}

async function runPrimary(flags: ServeFlags, workers: number): Promise<void> {
  process.title = `zonelab serve ${flags.instance ?? ''}`.trim();
  const logger = createLogger({ bindings: { component: 'serve' } });
  let running: ServerWorkers | undefined;
  const stopper = stopOnSignal(logger, `draining ${workers} workers for ${flags.drainSeconds} s`, () => running!.shutdown());
  running = await serveWithWorkers(serveOptions(flags, logger), workers);
  stopper.started();
  void running.fatal.then((error) => stopper.fail(`stopping: ${error.message}`));
}

async function runWorker(flags: ServeFlags, setup: NonNullable<ReturnType<typeof workerSetup>>): Promise<void> {
  process.title = `zonelab serve ${setup.identity.instance} worker ${setup.index}`;
  const logger = createLogger({ bindings: { component: 'serve' } });
  let running: RunningServer | undefined;
  const stopper = stopOnSignal(logger, `worker ${setup.index} draining for ${flags.drainSeconds} s`, () => running!.shutdown());
  running = await serveWorker(serveOptions(flags, logger), setup, () => stopper.drain());
  stopper.started();
}
