import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { ZonelabError } from '../errors.js';
import {
  estimateRunMs,
  evaluateExpect,
  type ExpectRule,
  type ExperimentWatcher,
  type FailoverMetrics,
  parseExpect,
  rerenderFolder,
  resultLines,
  runExperiment,
  runMatrix,
  runTrials,
  trialsLines,
  verdictJson,
  verdictJUnit,
  writeReportPdf,
} from '../failover/index.js';
import { type LbDriverKind, lbKinds, type LoadBalancerSpec, PROFILE_NAMES } from '../lb/index.js';
import { type Fault, formatFault, parseFault } from '../records/index.js';
import { shellQuote } from '../shell-quote.js';
import { createStatusLine } from '../status-line.js';
import { didYouMean } from '../suggest.js';
import { examples } from './examples.js';
import { openLivePage } from './live-page.js';
import {
  durationOption,
  faultList,
  faultOption,
  integerIn,
  listenOption,
  listOf,
  nonEmpty,
  onlyWith,
  parsePort,
  positiveNumber,
  typed,
  usageError,
  type WebFlag,
  webOption,
  zonesOption,
} from './option-parsers.js';
import { INTERRUPTED_EXIT_CODE, interruptible } from './signals.js';
import { addLbOptions, addSpecOptions, type LbFlags, lbFromFlags, type SpecFlags, SPEC_OPTION_NAMES, specFromFlags } from './spec-options.js';

interface FailoverFlags extends SpecFlags, LbFlags {
  lbs?: string[];
  checkSees?: 'fails-fast' | 'times-out' | 'passes';
  zones: string[];
  instancesPerZone: number;
  port: number;
  listen: { host: string; port: number };
  listenPort?: number;
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
  index?: number;
  matrix: boolean;
  faults: Fault[];
  profiles: string[];
  web: WebFlag;
  trials: number;
  seed: number;
  expect?: string;
}

const LAB_ONLY = ['zones', 'instancesPerZone', 'port', 'listen', 'listenPort', 'bucket', 'fault', 'lb', 'lbs', 'probers', 'proberRule', 'connectionPersistence'] as const;
const TARGET_ONLY = ['kill', 'restart', 'commandTimeout', 'bucketName', 'checkSees'] as const;

/** `2026-11-26T13-29-40` (a folder name that sorts by time). */
function stamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/:/g, '-');
}

/** A report folder's name part for a fault: `latency:500` → `latency-500`. */
function folderPart(text: string): string {
  return text.replace(/[^a-zA-Z0-9.]+/g, '-');
}

function minutes(ms: number): string {
  return ms < 90_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`;
}

/** Holds the runs to the rules: a line per failed rule, verdict.json and verdict.xml, exit 1 on a failure. */
async function judge(rules: ExpectRule[], runs: FailoverMetrics[], dir: string, command: string): Promise<void> {
  const results = evaluateExpect(rules, runs);
  await writeFile(join(dir, 'verdict.json'), verdictJson(results, { command, runs: runs.length }));
  await writeFile(join(dir, 'verdict.xml'), verdictJUnit(results, command));
  const failedRules = results.filter((result) => !result.pass);
  console.log(failedRules.length === 0 ? `expect: every rule holds (${join(dir, 'verdict.json')})` : failedRules.map((result) => `expect: ${result.line}`).join('\n'));
  if (failedRules.length > 0) process.exitCode = 1;
}

/** Every flag that does not fit the others is a usage error here, before anything starts. */
function checkFlags(flags: FailoverFlags, self: Command): void {
  if (flags.listenPort !== undefined) {
    process.stderr.write(`note: --listen-port is now --listen 127.0.0.1:${flags.listenPort}\n`);
    flags.listen = { host: '127.0.0.1', port: flags.listenPort };
  }
  onlyWith(self, TARGET_ONLY, flags.target !== undefined, 'applies to --target only (the commands that fault and restart a zone of another load balancer)');
  if (flags.target) {
    onlyWith(self, LAB_ONLY, false, 'applies to a local lab; with --target the fault is what --kill and --restart do');
    if (!flags.kill || !flags.restart || !flags.faultZone) usageError(self, '--target needs --kill, --restart and --fault-zone');
    if (flags.matrix) usageError(self, '--matrix runs local labs only');
    try {
      new URL(flags.target);
    } catch {
      usageError(self, `--target "${flags.target}" is not a URL such as http://203.0.113.7`);
    }
  }
  onlyWith(self, ['faults', 'profiles', 'lbs'], flags.matrix, 'applies to --matrix only');
  if (flags.matrix && typed(self, 'lb') && flags.lbs) usageError(self, '--matrix takes its load balancers from --lbs: leave out --lb');
  if (flags.matrix) {
    if (typed(self, 'fault')) usageError(self, '--matrix takes its faults from --faults');
    if (typed(self, 'profile')) usageError(self, '--matrix takes its profiles from --profiles');
    if (flags.web) usageError(self, '--web shows one run: leave out --matrix');
  }
  if (flags.web && flags.trials > 1) usageError(self, '--web shows one run: leave out --trials');
  onlyWith(self, ['seed'], flags.trials > 1, 'applies to --trials only (it seeds the extra warm-up before each fault)');
  if (flags.expect !== undefined && flags.matrix) usageError(self, '--expect holds one run (or its trials) to rules: leave out --matrix');
  if (!flags.target && flags.faultZone !== undefined && !flags.zones.includes(flags.faultZone)) {
    usageError(self, `--fault-zone ${flags.faultZone} is not one of the zones (${flags.zones.join(', ')})${didYouMean(flags.faultZone, flags.zones)}`);
  }
}

export function registerFailover(program: Command): void {
  addLbOptions(addSpecOptions(
    program
      .command('failover')
      .summary('the failover experiment: fault a zone, measure reroute and return, write a report')
      .description(
        'runs load at --rate on new connections through the load balancer, injects --fault into the servers of ' +
          'one zone, waits until traffic is rerouted and stable for --hold, heals them, waits until the zone ' +
          'serves again and --hold more, and writes reports/<time>-<profile>-<fault>/: setup.json, results.ndjson, events.ndjson, ' +
          'summary.json, report.md, report.html and timeline.svg. Local by default (a lab with a real load balancer, --lb, is started and ' +
          'stopped); with --target it measures any load balancer, with shell commands as the fault. With --target, ' +
          "state the load balancer's spec (--profile and the check flags, as zonelab gcp up prints them) to have the " +
          'report set the measurements against the bounds that spec implies. With --web it serves a live page of the run ' +
          '(requests per zone, backend states, marks, phase and running measurements), which shows the report when the run ends.',
      )
      .addOption(zonesOption(2, 'zones of the local lab'))
      .option('--instances-per-zone <n>', 'servers per zone', integerIn(1, 20), 1)
      .option('--port <n>', 'port every local server listens on (each on its own address)', parsePort, 8080)
      .addOption(listenOption('where the local load balancer listens'))
      .addOption(new Option('--listen-port <n>', 'renamed: --listen 127.0.0.1:<n>').argParser(parsePort).hideHelp())
      .option('--bucket <dir>', 'bucket folder of the local servers (generated when missing)', './data/bucket')
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
      .option('--rate <r>', 'requests per second, open loop', positiveNumber(100_000), 100)
      .addOption(durationOption('--warmup <d>', 'load before the fault', 5000, '5s'))
      .addOption(durationOption('--hold <d>', 'how long rerouted (and returned) traffic must stay stable', 5000, '5s'))
      .addOption(durationOption('--max-wait <d>', 'give up waiting for reroute or return after this long', 60_000, '60s'))
      .option('--keepalive', 'reuse connections (off: a new connection per request, as a network LB sees new clients)', false)
      .option('--out-dir <dir>', 'where report folders go', 'reports')
      .option('--target <url>', 'measure this load balancer instead of a local lab')
      .option('--kill <command>', 'with --target: shell command that faults the zone')
      .option('--restart <command>', 'with --target: shell command that restarts it (and waits until it is ready)')
      .addOption(durationOption('--command-timeout <d>', 'with --target: how long the kill and the restart command may each run before they are stopped', 180_000, '3m'))
      .addOption(
        new Option(
          '--check-sees <how>',
          "with --target: what the load balancer's health check sees of the --kill command: fails-fast (refused or reset at once: a killed server), times-out (no answer: a frozen or cut-off one) or passes; sets the windows the report holds the run to (default: times-out, the wider window)",
        ).choices(['fails-fast', 'times-out', 'passes']),
      )
      .option('-b, --bucket-name <name>', 'with --target: bucket path segment of the requests', nonEmpty('--bucket-name'), 'bucket')
      .option('-w, --webdir <name>', 'folder path segment of the requests', nonEmpty('--webdir'), 'webdir')
      .option('-i, --index <n>', 'pages are drawn from 0…n-1 (default: in a lab, every page its bucket holds; with --target, 10000)', integerIn(1, 1_000_000_000))
      .option('--matrix', 'run every --profiles × --faults pair, a lab each, and write one comparison (it says how long it will take)', false)
      .addOption(new Option('--faults <list>', 'with --matrix: faults (any --fault value)').argParser(faultList).default(['kill', 'term', 'stop'].map(parseFault), 'kill,term,stop'))
      .addOption(new Option('--profiles <list>', 'with --matrix: profiles').argParser(listOf(PROFILE_NAMES, 'profiles')).default([...PROFILE_NAMES], PROFILE_NAMES.join(',')))
      .addOption(new Option('--lbs <list>', `with --matrix: load balancers (${lbKinds().join(', ')}); default: --lb's`).argParser(listOf(lbKinds(), 'load balancers')))
      .option('--trials <n>', 'run the experiment n times on one lab (a random extra wait of up to one check interval before each fault and each heal) and report the spread: median, min, max, p90, a 95% interval of the median, and whether every trial fell in the window the spec predicts', integerIn(1, 100), 1)
      .option('--seed <n>', 'with --trials: seeds the extra waits before each fault and each heal', integerIn(0, 2 ** 31 - 1), 1)
      .option('--expect <rules>', "pass/fail for CI: rules such as 'reroute<=3s, failed<=0, p90(return)<=4s' (measures: reroute, return, return-ready, down, up, gap, failed; with --trials the median unless min/max/p90 is named); exit 1 when one fails, with verdict.json and verdict.xml (JUnit); a malformed rule exits 2 before anything runs")
      .addOption(webOption('the run: requests per second per zone, each counted when it was due to be sent (as the report counts it), backend states, marks, phases and running measurements, then the report')),
  ))
    .addHelpText(
      'after',
      examples([
        ['the assignment on this machine: kill a zone, measure, write a report', 'zonelab failover'],
        ['a frozen zone under Google Cloud\'s default checks, watched live', 'zonelab failover --profile gcp-default --fault stop --web'],
        ["the assignment's balancer: passthrough, probed as Google Cloud probes (root)", 'zonelab failover --lb passthrough --profile gcp-default'],
        ['two balancers side by side against two faults', 'zonelab failover --matrix --lbs haproxy,passthrough --profiles fast --faults kill,partition'],
        ['every profile against three faults (about 5 minutes; it prints its own estimate)', 'zonelab failover --matrix --faults kill,term,partition'],
        ['ten graceful stops under zero-error, failing CI when the median reroute is over 2 s or any request failed', "zonelab failover --profile zero-error --fault term --trials 10 --expect 'reroute<=2s, max(failed)<=0'"],
        [
          'a load balancer built elsewhere, its zone stopped by a command',
          "zonelab failover --target http://127.0.0.1:8080 --fault-zone us-east1-b --kill 'zonelab lab stop us-east1-b' --restart 'zonelab lab start us-east1-b'",
        ],
      ]),
    )
    .action(async (flags: FailoverFlags, self: Command) => {
      checkFlags(flags, self);
      // A malformed rule stops everything before anything runs, with its own exit code.
      let rules: ExpectRule[] | null = null;
      if (flags.expect !== undefined) {
        try {
          rules = parseExpect(flags.expect);
        } catch (error) {
          usageError(self, (error as Error).message, 2);
        }
      }
      const command = `zonelab ${process.argv.slice(2).map(shellQuote).join(' ')}`;
      // A target is whatever load balancer its owner built: its spec is known only when the
      // flags state it (gcp up prints them), and then the report holds the run against it.
      const specStated = SPEC_OPTION_NAMES.some((name) => typed(self, name));
      const faultZone = flags.faultZone ?? flags.zones[0]!;
      const stop = interruptible('interrupted: stopping the load and putting everything back…');
      const status = createStatusLine();

      const lbChosen = lbFromFlags(self, flags, flags.target ? ['applyDelay'] : []);
      const experimentOptions = (profile: string, fault: Fault, dir: string, spec: LoadBalancerSpec, lb: string = lbChosen.kind) => ({
        ...(flags.target
          ? {
              target: {
                url: flags.target,
                kill: flags.kill!,
                restart: flags.restart!,
                commandTimeoutMs: flags.commandTimeout,
                spec: specStated ? spec : null,
                ...(flags.checkSees ? { checkSees: flags.checkSees } : {}),
                ...(flags.applyDelay !== undefined ? { applyDelaySec: flags.applyDelay } : {}),
              },
            }
          : {
              lab: {
                zones: flags.zones,
                instancesPerZone: flags.instancesPerZone,
                spec,
                listenHost: flags.listen.host,
                listenPort: flags.listen.port,
                bucket: flags.bucket,
                lb: lb as LbDriverKind,
                // The passthrough settings apply to that balancer only (in a matrix of several).
                lbSettings: lb === 'passthrough' ? (lbChosen.kind === 'passthrough' ? lbChosen.settings : lbFromFlags(self, { ...flags, lb }).settings) : {},
              },
            }),
        pages: { ...(flags.target ? { bucket: flags.bucketName } : {}), webdir: flags.webdir, ...(flags.index !== undefined ? { index: flags.index } : {}) },
        fault,
        faultZone,
        rate: flags.rate,
        keepalive: flags.keepalive,
        warmupMs: flags.warmup,
        holdMs: flags.hold,
        maxWaitMs: flags.maxWait,
        outDir: dir,
        command: flags.matrix ? `zonelab failover --profile ${profile} --fault ${formatFault(fault)} --rate ${flags.rate}${flags.trials > 1 ? ` --trials ${flags.trials}` : ''}` : command,
        signal: stop.signal,
        onStatus: (line: string) => status.update(line),
        onStep: (line: string) => status.line(line),
      });
      const runOne = (profile: string, fault: Fault, dir: string, watcher?: ExperimentWatcher, lb?: string) =>
        runExperiment({ ...experimentOptions(profile, fault, dir, { ...specFromFlags({ ...flags, profile }), port: flags.port }, lb), watcher });

      const trialsOf = (profile: string, fault: Fault, dir: string, lb?: string) => {
        const spec = { ...specFromFlags({ ...flags, profile }), port: flags.port };
        return runTrials({
          ...experimentOptions(profile, fault, dir, spec, lb),
          trials: flags.trials,
          seed: flags.seed,
          onTrial: (trial, total, offsetMs) => status.line(`--- trial ${trial}/${total} (warm-up ${((flags.warmup + offsetMs) / 1000).toFixed(2)} s) ---`),
        });
      };

      if (!flags.matrix) {
        const dirName = flags.target ? `${stamp()}-target-${folderPart(faultZone)}` : `${stamp()}-${flags.profile}-${folderPart(formatFault(flags.fault))}`;
        const dir = join(flags.outDir, flags.trials > 1 ? `${dirName}-x${flags.trials}` : dirName);
        if (flags.trials > 1) {
          try {
            const trials = await trialsOf(flags.profile, flags.fault, dir);
            status.clear();
            console.log(trialsLines(trials).join('\n'));
            if (rules) await judge(rules, trials.runs.map((run) => run.metrics), dir, command);
            if (trials.interrupted) process.exitCode = stop.exitCode ?? INTERRUPTED_EXIT_CODE;
          } finally {
            stop.release();
          }
          return;
        }
        const live = flags.web
          ? await openLivePage(flags.web, {
              title: `zonelab failover: ${flags.target ? `commands on ${faultZone} behind ${flags.target}` : `${formatFault(flags.fault)} on ${faultZone}`} (${flags.profile})`,
              zones: flags.target ? [] : flags.zones,
              spec: flags.target ? null : { ...specFromFlags(flags), port: flags.port },
            })
          : null;
        try {
          const result = await runOne(flags.profile, flags.fault, dir, live?.watcher);
          status.clear();
          const lines = resultLines(result);
          console.log(lines.join('\n'));
          await live?.finish({ lines, reportHtml: await readFile(join(result.dir, 'report.html'), 'utf8').catch(() => null) });
          if (rules && !result.interrupted) await judge(rules, [result.metrics], result.dir, command);
          if (result.interrupted) process.exitCode = stop.exitCode ?? INTERRUPTED_EXIT_CODE;
        } catch (error) {
          await live?.finish({ lines: [`the run failed: ${(error as Error).message}`], reportHtml: null });
          throw error;
        } finally {
          stop.release();
        }
        return;
      }

      const estimate = (profile: string, fault: Fault) =>
        flags.trials * estimateRunMs({ spec: specFromFlags({ ...flags, profile }), fault: formatFault(fault), where: 'lab', warmupMs: flags.warmup, holdMs: flags.hold, maxWaitMs: flags.maxWait });
      const estimates = new Map(flags.profiles.flatMap((profile) => flags.faults.map((fault) => [`${profile} × ${formatFault(fault)}`, estimate(profile, fault)] as const)));
      const lbCount = (flags.lbs ?? [flags.lb]).length;
      const total = lbCount * [...estimates.values()].reduce((sum, ms) => sum + ms, 0);
      status.line(`matrix: ${lbCount * estimates.size} runs, about ${minutes(total)} (each starts a lab of its own)`);
      const started = performance.now();
      let estimatedDone = 0;
      const lbs = flags.lbs ?? [lbChosen.kind];
      const matrix = await runMatrix({
        lbs,
        profiles: flags.profiles,
        faults: flags.faults.map(formatFault),
        dir: join(flags.outDir, `${stamp()}-matrix`),
        run: async (lb, profile, fault, dir) => {
          if (flags.trials === 1) return { result: await runOne(profile, parseFault(fault), dir, undefined, lb) };
          const trials = await trialsOf(profile, parseFault(fault), dir, lb);
          if (trials.runs.length === 0) throw new ZonelabError('E_INTERRUPTED', 'interrupted before the first trial');
          return { result: trials.runs[0]!, summary: trials.summary };
        },
        signal: stop.signal,
        onRun: (index, count, name) => {
          // What is left, at the pace the runs so far actually went.
          const pace = estimatedDone > 0 ? (performance.now() - started) / estimatedDone : 1;
          const left = (total - estimatedDone) * pace;
          status.line(`=== [${index}/${count}] ${name} (about ${minutes(left)} left) ===`);
        },
        onResult: (run) => {
          estimatedDone += estimates.get(`${run.profile} × ${run.fault}`) ?? 0;
          status.clear();
          console.log(resultLines(run.result).join('\n'));
        },
      });
      stop.release();
      console.log(`\n${matrix.markdown}\nmatrix: ${matrix.path}`);
      if (stop.signal.aborted) process.exitCode = stop.exitCode ?? INTERRUPTED_EXIT_CODE;
    });

  program
    .command('report <dir>')
    .description(
      "compute the metrics and write the reports again from a folder's saved records: a run (report.md, report.html, timeline.svg, summary.json), " +
        'trials (every trial, then the spread) or a matrix (every cell, then matrix.html); with --pdf also a PDF of the folder\'s page, printed by the local Chromium',
    )
    .option('--pdf', 'also write report.pdf (matrix.pdf for a matrix; needs Chromium: apt-get install -y chromium)', false)
    .addOption(new Option('--paper <size>', 'with --pdf: the paper size').choices(['A4', 'Letter']).default('A4'))
    .addHelpText(
      'after',
      examples([
        ['the report of a run again (after an upgrade, say)', 'zonelab report reports/2026-11-26T13-29-40-fast-kill'],
        ['the same, and a PDF to hand in', 'zonelab report reports/2026-11-26T13-29-40-fast-kill --pdf'],
        ['trials or a matrix, on Letter paper', 'zonelab report reports/2026-11-26T14-02-11-matrix --pdf --paper Letter'],
      ]),
    )
    .action(async (dir: string, flags: { pdf: boolean; paper: 'A4' | 'Letter' }) => {
      const folder = await rerenderFolder(dir);
      for (const line of folder.lines) console.log(line);
      if (flags.pdf) console.log(`        ${await writeReportPdf(folder.html, undefined, flags.paper)}`);
    });
}

