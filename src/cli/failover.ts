import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ZonelabError } from '../errors.js';
import { shellQuote } from '../shell-quote.js';
import { errorKindsText, type ExperimentResult, type ExperimentWatcher, rerenderReport, rerouteText, runBounds, runExperiment, runMatrix, secondsText, writeReportPdf } from '../failover/index.js';
import { FAULT_FORMS, type Fault, formatFault, parseFault } from '../records/index.js';
import { PROFILE_NAMES } from '../lb/index.js';
import { createFailoverFeed, exposureWarning, type LiveServer, startLiveServer } from '../web/index.js';
import { durationOption, integerIn, nonEmpty, parsePort, type WebFlag, webAddress, webOption, zoneList } from './option-parsers.js';
import { addSpecOptions, SPEC_OPTION_NAMES, type SpecFlags, specFromFlags } from './spec-options.js';

interface FailoverFlags extends SpecFlags {
  zones: string[];
  instancesPerZone: number;
  port: number;
  listenPort: number;
  bucket: string;
  fault: Fault;
  faultZone?: string;
  rate: number;
  warmup: number;
  hold: number;
  maxWait: number;
  keepalive: boolean;
  outDir: string;
  target?: string;
  kill?: string;
  restart?: string;
  commandTimeout: number;
  bucketName: string;
  webdir: string;
  index: number;
  matrix: boolean;
  faults: Fault[];
  profiles: string[];
  web: WebFlag;
}

function list<T extends string>(allowed: readonly T[], what: string): (value: string) => T[] {
  return (value) => {
    const items = value.split(',').map((item) => item.trim()).filter(Boolean) as T[];
    const unknown = items.filter((item) => !allowed.includes(item));
    if (items.length === 0 || unknown.length > 0) throw new InvalidArgumentError(`expected ${what} from ${allowed.join(', ')}.`);
    return items;
  };
}

/** A fault as commander hands it over: one clear line for a bad one. */
function faultOption(value: string): Fault {
  try {
    return parseFault(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^fault /, ''));
  }
}

function faultList(value: string): Fault[] {
  const items = value.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError(`expected faults from ${FAULT_FORMS}.`);
  return items.map(faultOption);
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 100_000) throw new InvalidArgumentError('expected a number above zero.');
  return n;
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
}

function keyLines(result: ExperimentResult): string[] {
  const m = result.metrics;
  return [
    `time to reroute: ${rerouteText(m, runBounds(result.setup))}`,
    `failed requests: ${m.errors.count}${m.errors.count ? ` (${errorKindsText(m.errors.byKind)})` : ''}, longest gap ${secondsText(m.longestGapMs)}`,
    `time to return: ${m.returned ? `${secondsText(m.timeToReturnMs)} from the restart, ${secondsText(m.timeToReturnFromReadyMs)} from ready` : 'not returned'}`,
    ...(result.setup.where === 'lab' ? [`HAProxy: DOWN ${secondsText(m.lb.downAfterFaultMs)} after the fault, UP ${secondsText(m.lb.upAfterReadyMs)} after ready`] : []),
    `report: ${join(result.dir, 'report.md')}`,
  ];
}

/**
 * The live page of one run, started before the run (a busy port stops nothing) and
 * finished after it: the page shows the result and the report, and the command ends once
 * every attached page has received them.
 */
async function openLivePage(
  flag: Exclude<WebFlag, undefined>,
  options: Parameters<typeof createFailoverFeed>[0],
): Promise<{ watcher: ExperimentWatcher; finish: (done: { lines: string[]; reportHtml: string | null }) => Promise<void> }> {
  const { feed, watcher } = createFailoverFeed(options);
  const address = webAddress(flag);
  let server: LiveServer;
  try {
    server = await startLiveServer({ feed, ...address });
  } catch (error) {
    feed.close();
    throw error;
  }
  const warning = exposureWarning(address.host);
  if (warning) process.stderr.write(`warning: ${warning}\n`);
  console.log(`live page: ${server.url}`);
  return {
    watcher,
    async finish(done) {
      if (!feed.finished) feed.done(done);
      await server.drain();
      await server.close();
      feed.close();
    },
  };
}

export function registerFailover(program: Command): void {
  addSpecOptions(
    program
      .command('failover')
      .summary('the failover experiment: fault a zone, measure reroute and return, write a report')
      .description(
        'runs load at --rate on new connections through the load balancer, injects --fault into the servers of ' +
        'one zone, waits until traffic is rerouted and stable for --hold, heals them, waits until the zone ' +
        'serves again and --hold more, and writes reports/<time>/: setup.json, results.ndjson, events.ndjson, ' +
        'summary.json, report.md and timeline.svg. Local by default (a lab with real HAProxy is started and ' +
        'stopped); with --target it measures any load balancer, with shell commands as the fault. With --target, ' +
        'state the load balancer\'s spec (--profile and the check flags, as zonelab gcp up prints them) to have the ' +
        'report set the measurements against the bounds that spec implies. With --web it serves a live page of the run ' +
        '(requests per zone, backend states, marks, phase and running measurements), which shows the report when the run ends.',
      )
      .option('--zones <list>', 'zones of the local lab', zoneList(2), ['us-east1-b', 'us-east1-c'])
      .option('--instances-per-zone <n>', 'servers per zone', integerIn(1, 20), 1)
      .option('--port <n>', 'port every local server listens on', parsePort, 8080)
      .option('--listen-port <n>', 'port of the local load balancer on 127.0.0.1', parsePort, 8080)
      .option('--bucket <dir>', 'bucket of the local servers (generated when missing)', './data/bucket')
      .addOption(
        new Option(
          '--fault <fault>',
          'what the zone suffers: kill (SIGKILL), term (SIGTERM: drain), stop (SIGSTOP: freeze), partition (packets dropped; root), ' +
            'reset (TCP resets; root), latency:<ms>, errors:<fraction> (of object requests answered 500), health-fail (/healthz 503), ' +
            'flap:<period> (/healthz alternating)',
        )
          .argParser(faultOption)
          .default(parseFault('kill'), 'kill'),
      )
      .option('--fault-zone <zone>', 'zone to fault (default: the first)')
      .option('--rate <r>', 'requests per second, open loop', positive, 100)
      .addOption(durationOption('--warmup <d>', 'load before the fault', 5000, '5s'))
      .addOption(durationOption('--hold <d>', 'how long rerouted (and returned) traffic must stay stable', 5000, '5s'))
      .addOption(durationOption('--max-wait <d>', 'give up waiting for reroute or return after this long', 60_000, '60s'))
      .option('--keepalive', 'reuse connections (off: a new connection per request, as a network LB sees new clients)', false)
      .option('--out-dir <dir>', 'where report folders go', 'reports')
      .option('--target <url>', 'measure this load balancer instead of a local lab')
      .option('--kill <command>', 'with --target: shell command that faults the zone')
      .option('--restart <command>', 'with --target: shell command that restarts it (and waits until it is ready)')
      .addOption(durationOption('--command-timeout <d>', 'with --target: how long the kill and the restart command may each run before they are stopped', 180_000, '3m'))
      .option('-b, --bucket-name <name>', 'with --target: bucket path segment of the requests', nonEmpty('--bucket-name'), 'bucket')
      .option('-w, --webdir <name>', 'folder path segment of the requests', nonEmpty('--webdir'), 'webdir')
      .option('-i, --index <n>', 'pages are drawn from 0…n-1', integerIn(1, 1_000_000_000), 10_000)
      .option('--matrix', 'run every --profiles × --faults pair and write one comparison (local only)', false)
      .addOption(new Option('--faults <list>', 'faults of the matrix (any --fault value)').argParser(faultList).default(['kill', 'term', 'stop'].map(parseFault), 'kill,term,stop'))
      .option('--profiles <list>', 'profiles of the matrix', list(PROFILE_NAMES, 'profiles'), [...PROFILE_NAMES])
      .addOption(webOption('the run: requests per zone as they are answered, backend states, marks, phase and running measurements, then the report')),
  ).action(async (flags: FailoverFlags, self: Command) => {
    const command = `zonelab ${process.argv.slice(2).map(shellQuote).join(' ')}`;
    // A target is whatever load balancer its owner built: its spec is known only when the
    // flags state it (gcp up prints them), and then the report holds the run against it.
    const specStated = SPEC_OPTION_NAMES.some((name) => self.getOptionValueSource(name) === 'cli');
    if (!flags.target && self.getOptionValueSource('commandTimeout') === 'cli') {
      throw new ZonelabError('E_BAD_ARGUMENT', '--command-timeout applies to the --kill and --restart commands of --target only');
    }
    if (flags.target && (!flags.kill || !flags.restart || !flags.faultZone)) {
      throw new ZonelabError('E_BAD_ARGUMENT', '--target needs --kill, --restart and --fault-zone');
    }
    if (flags.target && flags.matrix) throw new ZonelabError('E_BAD_ARGUMENT', '--matrix runs local labs only');
    if (flags.web && flags.matrix) throw new ZonelabError('E_BAD_ARGUMENT', '--web shows one run: leave out --matrix');
    if (flags.target && self.getOptionValueSource('fault') === 'cli') {
      throw new ZonelabError('E_BAD_ARGUMENT', '--fault applies to a local lab; with --target the fault is what --kill and --restart do');
    }
    if (flags.target) {
      try {
        new URL(flags.target);
      } catch {
        throw new ZonelabError('E_BAD_ARGUMENT', `--target "${flags.target}" is not a URL such as http://203.0.113.7`);
      }
    }
    const stop = new AbortController();
    let signals = 0;
    const onSignal = () => {
      if (++signals > 1) process.exit(130);
      process.stderr.write('\ninterrupted: stopping the load and putting everything back…\n');
      stop.abort();
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    const interactive = process.stderr.isTTY === true;
    let lastPlain = 0;
    const onStatus = (line: string) => {
      if (interactive) process.stderr.write(`\r\x1b[2K${line}`);
      else if (Date.now() - lastPlain >= 5000) {
        lastPlain = Date.now();
        process.stderr.write(`${line}\n`);
      }
    };
    const onStep = (line: string) => process.stderr.write(`${interactive ? '\r\x1b[2K' : ''}${line}\n`);
    const base = join(flags.outDir, stamp());

    const runOne = (profile: string, fault: Fault, dir: string, watcher?: ExperimentWatcher) => {
      const spec = { ...specFromFlags({ ...flags, profile }), port: flags.port };
      return runExperiment({
        ...(flags.target
          ? { target: { url: flags.target, kill: flags.kill!, restart: flags.restart!, commandTimeoutMs: flags.commandTimeout, spec: specStated ? spec : null } }
          : {
              lab: {
                zones: flags.zones,
                instancesPerZone: flags.instancesPerZone,
                spec,
                listenHost: '127.0.0.1',
                listenPort: flags.listenPort,
                bucket: flags.bucket,
              },
            }),
        pages: { ...(flags.target ? { bucket: flags.bucketName } : {}), webdir: flags.webdir, index: flags.index },
        fault,
        faultZone: flags.faultZone ?? flags.zones[0]!,
        rate: flags.rate,
        keepalive: flags.keepalive,
        warmupMs: flags.warmup,
        holdMs: flags.hold,
        maxWaitMs: flags.maxWait,
        outDir: dir,
        command: flags.matrix ? `zonelab failover --profile ${profile} --fault ${formatFault(fault)} --rate ${flags.rate}` : command,
        signal: stop.signal,
        onStatus,
        onStep,
        watcher,
      });
    };

    if (!flags.matrix) {
      const faultZone = flags.faultZone ?? flags.zones[0]!;
      const live = flags.web
        ? await openLivePage(flags.web, {
            title: `zonelab failover: ${flags.target ? `commands on ${faultZone} behind ${flags.target}` : `${formatFault(flags.fault)} on ${faultZone}`} (${flags.profile})`,
            zones: flags.target ? [] : flags.zones,
            spec: flags.target ? null : { ...specFromFlags(flags), port: flags.port },
          })
        : null;
      let result: ExperimentResult;
      try {
        result = await runOne(flags.profile, flags.fault, base, live?.watcher);
      } catch (error) {
        await live?.finish({ lines: [`the run failed: ${(error as Error).message}`], reportHtml: null });
        throw error;
      }
      if (interactive) process.stderr.write('\r\x1b[2K');
      const lines = keyLines(result);
      console.log(lines.join('\n'));
      await live?.finish({ lines, reportHtml: await readFile(join(result.dir, 'report.html'), 'utf8').catch(() => null) });
      if (result.interrupted) process.exitCode = 130;
      return;
    }
    const matrix = await runMatrix({
      profiles: flags.profiles,
      faults: flags.faults.map(formatFault),
      dir: base,
      run: (profile, fault, dir) => runOne(profile, parseFault(fault), dir),
      signal: stop.signal,
      onRun: (index, total, name) => onStep(`=== [${index}/${total}] ${name} ===`),
      onResult: (run) => console.log(keyLines(run.result).join('\n')),
    });
    console.log(`\n${matrix.markdown}\nmatrix: ${matrix.path}`);
    if (stop.signal.aborted) process.exitCode = 130;
  });

  program
    .command('report <dir>')
    .description(
      'compute the metrics and write report.md, report.html, timeline.svg and summary.json again from a run\'s saved records; ' +
        'with --pdf also report.pdf, printed by the local Chromium',
    )
    .option('--pdf', 'also write report.pdf (needs Chromium: apt-get install -y chromium)', false)
    .action(async (dir: string, flags: { pdf: boolean }) => {
      const metrics = await rerenderReport(dir);
      console.log(`report: ${join(dir, 'report.md')} (time to reroute ${metrics.rerouted ? secondsText(metrics.timeToRerouteMs) : 'not rerouted'})`);
      console.log(`        ${join(dir, 'report.html')}`);
      if (flags.pdf) console.log(`        ${await writeReportPdf(dir)}`);
    });
}
