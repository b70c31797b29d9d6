import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequestModel, LiveStatus, pagePath, runLoad } from '../client/index.js';
import { isZonelabError, ZonelabError } from '../errors.js';
import { checkLabAddresses, checkNetworkFaultsPossible, type Lab, type LabOptions, startLab } from '../lab/index.js';
import { GCP_APPLY_DELAY_SEC, lbDriver, lbName, type LoadBalancerSpec } from '../lb/index.js';
import { type Fault, faultClassOf, formatFault, type RequestResult, type RunEvent, type RunSetup } from '../records/index.js';
import { parseGcsUrl } from '../storage/index.js';
import { commandInjector, type FaultInjector, labFaultInjector } from './injectors/index.js';
import { type LiveRunStatus, liveRunStatus } from './live-measures.js';
import { computeFailoverMetrics, type FailoverMetrics } from './metrics.js';
import { FailoverPhases } from './phases.js';
import { runBounds } from './run-bounds.js';
import { openRunRecorder, type RunRecorder } from './recorder.js';
import { FailoverTracker } from './tracker.js';
import { summarizeTrials, type TrialsSummary } from './trials.js';
import { WarmupTally } from './warmup-check.js';
import { writeReport, writeTrialsReport } from './write-report.js';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

const { version: ZONELAB_VERSION } = createRequire(import.meta.url)('../../../package.json') as { version: string };


/** How the run was set up (the record `setup.json` holds). */
export type ExperimentSetup = RunSetup;

export interface TargetOptions {
  url: string;
  /** Shell command that faults the zone. */
  kill: string;
  /** Shell command that restarts it and returns once it is ready. */
  restart: string;
  /** How long either command may run before it is stopped, ms; default 180000. */
  commandTimeoutMs?: number;
  /** What the target's health check sees of the kill command, when the user says (`--check-sees`). */
  checkSees?: 'fails-fast' | 'times-out' | 'passes';
  /** Seconds allowed for the target to apply a health verdict (`--apply-delay`): widens the windows' high end. */
  applyDelaySec?: number;
  /**
   * The load balancer's spec as its owner states it (e.g. the flags `zonelab gcp up`
   * printed): the report shows it and the bounds it implies. Null: unknown.
   */
  spec?: LoadBalancerSpec | null;
}

/**
 * Told of a run as it happens (the live page). Its calls run on the run's own path, so
 * they must return at once: queue, never wait.
 */
export interface ExperimentWatcher {
  /** The setup is written and the run's clock (ms) starts. */
  start(setup: RunSetup, now: () => number): void;
  record(record: RequestResult): void;
  event(event: RunEvent): void;
  /** The phase and running measurements, four times a second. */
  status(status: LiveRunStatus): void;
}

export interface ExperimentOptions {
  /** Start a lab (the default) … */
  lab?: Omit<LabOptions, 'dir'>;
  /** … or measure any load balancer, with shell commands as the fault. */
  target?: TargetOptions;
  /** What the requests ask for (the course client's -b, -w, -i); default the lab bucket's pages (all of those a local bucket holds). */
  pages?: Partial<{ bucket: string; webdir: string; index: number }>;
  /** The lab's fault (ignored with a target, whose fault is its commands). */
  fault: Fault;
  faultZone: string;
  rate: number;
  keepalive: boolean;
  warmupMs: number;
  holdMs: number;
  maxWaitMs: number;
  /** Per request, ms; default 2000 (shorter than the hold, so a hung request ends inside it). */
  timeoutMs?: number;
  /** The report folder; created. */
  outDir: string;
  command: string;
  signal: AbortSignal;
  /** A live line, about twice a second. */
  onStatus?: (line: string) => void;
  /** A step worth a line of its own ("fault: kill us-east1-c at 5.0 s"). */
  onStep?: (line: string) => void;
  watcher?: ExperimentWatcher;
}

export interface ExperimentResult {
  dir: string;
  setup: RunSetup;
  metrics: FailoverMetrics;
  interrupted: boolean;
  /** How far the load generator fell behind its schedule at worst, ms. */
  maxLagMs: number;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** What every trial of a run shares: the lab (or target) and how its fault is injected. */
interface Bench {
  lab: Lab | null;
  injector: FaultInjector;
  /** Stops what was started (the lab; a target is left as it is). */
  close(): Promise<void>;
}

/** Checks what can be checked before anything starts, creates the run folder, starts the lab. */
async function openBench(options: ExperimentOptions): Promise<Bench> {
  if (!options.lab === !options.target) throw new ZonelabError('E_BAD_ARGUMENT', 'an experiment needs either a lab or a target');
  if (options.lab && !options.lab.zones.includes(options.faultZone)) {
    throw new ZonelabError('E_BAD_ARGUMENT', `--fault-zone ${options.faultZone} is not one of the zones (${options.lab.zones.join(', ')})`);
  }
  // Checked before anything starts: a fault that cannot be injected here stops the run now.
  if (options.lab && faultClassOf(options.fault) === 'network') checkNetworkFaultsPossible();
  const labDir = join(options.outDir, 'lab');
  if (options.lab) await checkLabAddresses({ ...options.lab, dir: labDir });
  await mkdir(options.outDir, { recursive: true });
  let lab: Lab | null = null;
  if (options.lab) {
    options.onStep?.(`starting the lab (${lbName(options.lab.lb)}, profile ${options.lab.spec.profile}, mode ${options.lab.spec.mode})`);
    // A lab that fails to start leaves its logs here, which its error names.
    lab = await startLab({ ...options.lab, dir: labDir });
  }
  const injector: FaultInjector = lab
    ? labFaultInjector(lab, options.faultZone, options.fault)
    : commandInjector({ kill: options.target!.kill, restart: options.target!.restart, timeoutMs: options.target!.commandTimeoutMs ?? 180_000 });
  return { lab, injector, close: async () => lab?.down() };
}

/**
 * The failover experiment: load at a fixed rate, warm-up, a fault on one zone, wait until
 * traffic is rerouted and stable for `holdMs`, heal the zone, wait until it serves again
 * and `holdMs` more, stop (the phases: `FailoverPhases`). Records and events are written as
 * they happen; metrics and the report are computed from them at the end. Everything
 * started is stopped, and a faulted zone healed, whatever happens (Ctrl-C included).
 */
export async function runExperiment(options: ExperimentOptions): Promise<ExperimentResult> {
  const bench = await openBench(options);
  return withBench(bench, options.outDir, () => false, () => runTrial(options, bench, options.outDir, options.warmupMs));
}

export interface TrialsOptions extends ExperimentOptions {
  /** How many times the experiment runs on the one lab (or target). */
  trials: number;
  /** Seeds the random extra warm-up (0 to one check interval) before each fault; default 1. */
  seed?: number;
  /** Told before each trial: its number, the total, the extra warm-up in ms. */
  onTrial?: (trial: number, total: number, offsetMs: number) => void;
}

export interface TrialsResult {
  dir: string;
  runs: ExperimentResult[];
  summary: TrialsSummary;
  interrupted: boolean;
}

/**
 * The experiment `trials` times on one lab (or target): each trial is a whole run in
 * `trial-01/`, … (it ends with the zone healed and serving for the hold, so the next one
 * starts from a stable lab), with a random extra warm-up, and a random extra wait before the
 * heal, of up to one check interval each, so faults and restarts land at different points of
 * the check cycle. Then the trials' spread, set against
 * the window the spec predicts, goes to report.md, trials.svg, report.html and trials.json.
 */
export async function runTrials(options: TrialsOptions): Promise<TrialsResult> {
  const bench = await openBench(options);
  const runs: ExperimentResult[] = [];
  // The trials already run are kept whatever stops a later one.
  return withBench(bench, options.outDir, () => runs.length > 0, async () => {
    const rng = xoroshiro128plus(options.seed ?? 1);
    const intervalMs = ((options.lab?.spec ?? options.target?.spec)?.checkIntervalSec ?? 1) * 1000;
    const width = Math.max(2, String(options.trials).length);
    for (let trial = 1; trial <= options.trials && !options.signal.aborted; trial++) {
      // Where the fault and the restart land in the check cycle decides much of each time.
      const offsetMs = uniformInt(rng, 0, intervalMs - 1);
      const healDelayMs = uniformInt(rng, 0, intervalMs - 1);
      options.onTrial?.(trial, options.trials, offsetMs);
      const dir = join(options.outDir, `trial-${String(trial).padStart(width, '0')}`);
      try {
        runs.push(await runTrial(options, bench, dir, options.warmupMs + offsetMs, healDelayMs));
      } catch (error) {
        if (runs.length === 0 || !(isZonelabError(error, 'E_TARGET_SILENT') || isZonelabError(error, 'E_WARMUP_UNFIT'))) throw error;
        // A later trial with nothing to measure: its folder goes, the trials before it stay
        // with their spread, and the error says so.
        await rm(dir, { recursive: true, force: true });
        await writeTrialsReport(options.outDir, runs, summarizeTrials(runs));
        error.message = `trial ${trial}: ${error.message}; the ${runs.length} trial${runs.length === 1 ? '' : 's'} before it and their spread are in ${options.outDir}`;
        throw error;
      }
    }
    const summary = summarizeTrials(runs);
    await writeTrialsReport(options.outDir, runs, summary);
    return { dir: options.outDir, runs, summary, interrupted: options.signal.aborted };
  });
}

/**
 * Runs `work` on the bench and closes it whatever happens; a run with nothing to measure
 * leaves no folder, unless `keep` says the folder already holds something measured.
 */
async function withBench<T>(bench: Bench, outDir: string, keep: () => boolean, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work();
    await bench.close();
    return result;
  } catch (error) {
    await bench.close();
    if ((isZonelabError(error, 'E_TARGET_SILENT') || isZonelabError(error, 'E_WARMUP_UNFIT')) && !keep()) await rm(outDir, { recursive: true, force: true });
    throw error;
  }
}

/** One pass through the phases on an open bench, into `dir`, with this warm-up. */
async function runTrial(options: ExperimentOptions, bench: Bench, dir: string, warmupMs: number, healDelayMs = 0): Promise<ExperimentResult> {
  const { lab, injector } = bench;
  const step = options.onStep ?? (() => {});
  await mkdir(dir, { recursive: true });
  const setup = describeSetup({ ...options, warmupMs }, lab);
  await writeFile(join(dir, 'setup.json'), `${JSON.stringify(setup, null, 2)}\n`);
  const bounds = runBounds(setup);
  if (bounds?.detection && options.maxWaitMs < bounds.detection.sec * 1000 + options.holdMs) {
    step(
      `note: --max-wait ${seconds(options.maxWaitMs)} is shorter than the ${bounds.detection.sec} s the load balancer may take to notice ${setup.fault === 'command' ? 'the fault' : setup.fault} plus --hold ${seconds(options.holdMs)}: the run may end "not rerouted" before it could have acted`,
    );
  }
  // Worked out before the run's clock starts: a bucket's listing must not delay the first requests.
  const pages = await pagesToAsk(options, lab);
  const recorder = watched(await openRunRecorder(dir), options.watcher);
  options.watcher?.start(setup, recorder.now);
  const tracker = new FailoverTracker(options.faultZone, options.holdMs);
  const phases = new FailoverPhases({ ...options, warmupMs, healDelayMs }, tracker);
  const live = new LiveStatus();
  // What the watcher's running measurements need from the events, read as they come.
  let lbDownAt: number | null = null;
  let readyAt: number | null = null;
  let eventsRead = 0;
  const faultInstances = new Set(setup.faultInstances);
  const watcherTicker = options.watcher
    ? setInterval(() => {
        for (; eventsRead < recorder.events.length; eventsRead++) {
          const event = recorder.events[eventsRead]!;
          const down = event.kind === 'lb-state' && event.detail === 'DOWN' && faultInstances.has(event.target);
          if (lbDownAt === null && down && tracker.faultAt !== null && event.at >= tracker.faultAt) lbDownAt = event.at;
          if (readyAt === null && event.kind === 'server-ready') readyAt = event.at;
        }
        options.watcher!.status(liveRunStatus({ phase: phases.phase, tracker, now: recorder.now(), answered: live.ok, failed: live.errors, lbDownAt, readyAt }));
      }, 250).unref()
    : null;
  const stopLoad = new AbortController();
  const url = new URL(setup.url);
  recorder.event({ at: 0, kind: 'phase', target: 'warm-up', detail: '' });
  // What the warm-up's answers were, as counts: judged before the fault, then dropped.
  const warmup = new WarmupTally(options.faultZone);
  let inWarmup = true;
  const load = runLoad({
    origin: `${url.protocol}//${url.host}`,
    next: createRequestModel({ ...pages, seed: 1 }),
    mode: { kind: 'open', rate: options.rate },
    keepalive: options.keepalive,
    connections: Math.max(1, Math.ceil(options.rate / 10)),
    timeoutMs: setup.timeoutMs,
    retries: 0,
    follow: false,
    signal: stopLoad.signal,
    epoch: recorder.epoch,
    onSend: (seq, sentAt) => tracker.sent(seq, sentAt),
    onResult: (record) => {
      recorder.record(record);
      if (inWarmup) warmup.add(record);
      tracker.observe(record);
      live.record(record, recorder.now());
    },
  });
  const pollerStop = new AbortController();
  const poller = lab ? pollLoadBalancer(lab, recorder, pollerStop.signal) : Promise.resolve();
  const ticker = setInterval(() => options.onStatus?.(`${phases.phase.padEnd(9)} ${live.line(recorder.now())}`), 500).unref();

  let faulted = false;
  let healed = false;
  let worstLagMs = 0;
  let unfit: ReturnType<WarmupTally['problem']> = null;
  try {
    while (!options.signal.aborted) {
      const { action, events } = phases.next(recorder.now());
      for (const event of events) recorder.event(event);
      if (events.some((event) => event.target === 'not-rerouted')) step(`not rerouted within ${seconds(options.maxWaitMs)}`);
      if (events.some((event) => event.target === 'not-returned')) step(`zone ${options.faultZone} not serving again within ${seconds(options.maxWaitMs)}`);
      if (action === 'finish') break;
      if (action === 'inject') {
        // Nothing to measure a failover against: say so instead of writing a plausible report
        // of refusals, of 404s, or of a zone that took no traffic to begin with.
        unfit = warmup.problem({ url: setup.url, paths: pathsAsked(pages), pathFlags: lab ? '--webdir and --index (and the lab\'s --bucket)' : '--bucket-name, --webdir and --index' });
        inWarmup = false;
        if (unfit) break;
        faulted = true;
        const startedAt = recorder.now();
        step(`fault: ${injector.label} at ${seconds(startedAt)}`);
        if (!lab) recorder.event({ at: startedAt, kind: 'phase', target: 'fault-command', detail: options.target!.kill });
        const at = await injector.inject(() => recorder.now());
        recorder.event({ at, kind: 'fault', target: options.faultZone, detail: lab ? setup.fault : `${options.target!.kill} (returned after ${Math.round(at - startedAt)} ms)` });
        // When the injection was over: a killed server seen gone, a drained one exited, the
        // rules committed; a command returned. Requests sent before it may still reach the fault.
        recorder.event({ at: recorder.now(), kind: 'phase', target: 'fault-settled', detail: lab ? `${setup.fault} in full effect` : 'the fault command returned' });
        for (const event of phases.faulted(at)) recorder.event(event);
      } else if (action === 'heal') {
        const restartAt = recorder.now();
        phases.healing(restartAt);
        recorder.event({ at: restartAt, kind: 'recover', target: options.faultZone, detail: lab ? `heal ${setup.fault}` : options.target!.restart });
        step(`heal: ${lab ? `${setup.fault} on ${options.faultZone}` : options.target!.restart} at ${seconds(restartAt)}`);
        const how = await injector.heal();
        healed = true;
        const readyAt = recorder.now();
        recorder.event({ at: readyAt, kind: 'server-ready', target: options.faultZone, detail: how });
        for (const event of phases.ready(readyAt)) recorder.event(event);
      } else {
        await sleep(100, undefined, { signal: options.signal }).catch(() => {});
      }
    }
  } finally {
    clearInterval(ticker);
    if (watcherTicker) clearInterval(watcherTicker);
    recorder.event({ at: recorder.now(), kind: 'phase', target: 'done', detail: options.signal.aborted ? 'interrupted' : '' });
    stopLoad.abort();
    const { maxLagMs, lagEpisodes, unsentEpisodes } = await load;
    // Every answer is in now: the page's last figures are the report's, not the last tick's.
    options.watcher?.status(liveRunStatus({ phase: phases.phase, tracker, now: recorder.now(), answered: live.ok, failed: live.errors, lbDownAt, readyAt }));
    worstLagMs = maxLagMs;
    // Each stretch where requests left noticeably later than their records say, with its
    // due times, so the report can tell a start-up hiccup from lag around the fault.
    for (const episode of lagEpisodes) {
      recorder.event({ at: recorder.now(), kind: 'phase', target: 'load-behind', detail: `${episode.maxLagMs} ms from ${episode.fromMs.toFixed(1)} to ${episode.toMs.toFixed(1)}` });
    }
    // Requests the loop could not send (the rate is beyond this machine): said, not queued.
    for (const episode of unsentEpisodes) {
      recorder.event({ at: recorder.now(), kind: 'phase', target: 'load-unsent', detail: `${episode.count} from ${episode.fromMs.toFixed(1)} to ${episode.toMs.toFixed(1)}` });
    }
    pollerStop.abort();
    await poller;
    await recorder.close();
    // Put back what the experiment broke, even when it was interrupted half-way (a lab's
    // "down" removes its faults with it).
    if (faulted && !healed && !lab) await injector.heal().catch(() => {});
  }
  if (unfit) throw new ZonelabError(unfit.code, unfit.message);
  // The analysis from what the run wrote: the report is what `zonelab report` would make again.
  const records = await recorder.readRecords();
  const metrics = computeFailoverMetrics(records, recorder.events, { zone: options.faultZone, instances: setup.faultInstances, holdMs: setup.holdMs });
  await writeReport(dir, setup, records, recorder.events, metrics);
  return { dir, setup, metrics, interrupted: options.signal.aborted, maxLagMs: worstLagMs };
}

/** The recorder, also telling the watcher of every record and event. */
function watched(recorder: RunRecorder, watcher: ExperimentWatcher | undefined): RunRecorder {
  if (!watcher) return recorder;
  return {
    ...recorder,
    record: (result) => {
      recorder.record(result);
      watcher.record(result);
    },
    event: (event) => {
      recorder.event(event);
      watcher.event(event);
    },
  };
}

/** The lab's load balancer as the setup records it, or null with a target. */
function balancerOf(lab: Lab | null) {
  const state = lab?.state.lb;
  if (!state) return null;
  const driver = lbDriver(state.kind);
  const program = driver.program();
  return {
    kind: state.kind,
    summary: driver.summary,
    hasView: driver.hasView,
    settings: state.settings,
    limitations: driver.limitations(lab!.state.spec, state.settings),
    program: program?.name ?? state.kind,
    version: program?.version ?? null,
  };
}

function describeSetup(options: ExperimentOptions, lab: Lab | null): RunSetup {
  const lb = balancerOf(lab);
  return {
    where: lab ? 'lab' : 'target',
    url: lab ? lab.state.lbUrl : options.target!.url,
    zones: options.lab?.zones ?? [],
    instancesPerZone: options.lab?.instancesPerZone ?? null,
    spec: options.lab?.spec ?? options.target?.spec ?? null,
    fault: lab ? formatFault(options.fault) : 'command',
    faultZone: options.faultZone,
    faultInstances: lab ? lab.state.servers.filter((s) => s.zone === options.faultZone).map((s) => s.name) : [],
    killCommand: options.target?.kill ?? null,
    restartCommand: options.target?.restart ?? null,
    rate: options.rate,
    keepalive: options.keepalive,
    warmupMs: options.warmupMs,
    holdMs: options.holdMs,
    maxWaitMs: options.maxWaitMs,
    timeoutMs: options.timeoutMs ?? 2000,
    startedAt: new Date().toISOString(),
    command: options.command,
    backends: lab ? lab.state.servers.map((server) => ({ name: server.name, zone: server.zone, address: `${server.host}:${server.port}` })) : [],
    versions: { zonelab: ZONELAB_VERSION, node: process.version, ...(lb ? { lb: { program: lb.program, version: lb.version } } : {}) },
    ...(lb ? { lb: { kind: lb.kind, summary: lb.summary, hasView: lb.hasView, settings: lb.settings, limitations: lb.limitations } } : {}),
    ...(options.target?.checkSees ? { checkSees: options.target.checkSees } : {}),
    ...(options.target ? { applyDelaySec: options.target.applyDelaySec ?? GCP_APPLY_DELAY_SEC } : {}),
  };
}

/**
 * The load balancer's own view as lb-state events: each backend's state when the run
 * starts, then every change at the time the balancer itself gives it (HAProxy's log, the
 * passthrough prober's record), not when a poll happened to see it. Changes are read every
 * 50 ms, which only decides how soon the live page shows them.
 */
async function pollLoadBalancer(lab: Lab, recorder: RunRecorder, signal: AbortSignal): Promise<void> {
  const balancer = lab.balancer();
  if (!balancer) return;
  // The run's clock is performance.now() - epoch; the balancer's is the wall clock.
  const wallAtEpoch = performance.timeOrigin + recorder.epoch;
  let { cursor } = await balancer.changes(0);
  const view = await balancer.view().catch(() => null);
  const startedAt = recorder.now();
  for (const stat of view ?? []) recorder.event({ at: startedAt, kind: 'lb-state', target: stat.server, detail: stat.status });
  const last = new Map((view ?? []).map((stat) => [stat.server, stat.status]));
  while (!signal.aborted) {
    await sleep(50, undefined, { signal }).catch(() => {});
    const read = await balancer.changes(cursor);
    cursor = read.cursor;
    for (const change of read.changes) {
      if (last.get(change.server) === change.status) continue;
      last.set(change.server, change.status);
      recorder.event({ at: Math.round((change.at - wallAtEpoch) * 1000) / 1000, kind: 'lb-state', target: change.server, detail: change.status });
    }
  }
}

/** Pages drawn from 0…n-1 when neither --index nor the bucket says otherwise (the course client's default). */
const DEFAULT_PAGE_COUNT = 10_000;

/**
 * What the requests ask for. The lab serves its bucket under the bucket's own name, and a
 * local bucket says how many pages it holds: asking for more would measure 404s.
 */
async function pagesToAsk(options: ExperimentOptions, lab: Lab | null): Promise<{ bucket: string; webdir: string; index: number }> {
  const webdir = options.pages?.webdir ?? 'webdir';
  const bucket = options.pages?.bucket ?? (lab ? bucketNameOf(options.lab!.bucket) : 'bucket');
  let index = options.pages?.index;
  if (index === undefined && lab && !parseGcsUrl(options.lab!.bucket)) index = (await consecutivePages(join(options.lab!.bucket, webdir))) ?? undefined;
  return { bucket, webdir, index: index ?? DEFAULT_PAGE_COUNT };
}

/** How many pages `0.html`, `1.html`, … a folder holds without a gap; null when none or no folder. */
async function consecutivePages(folder: string): Promise<number | null> {
  const names = new Set(await readdir(folder).catch(() => [] as string[]));
  let count = 0;
  while (names.has(`${count}.html`)) count++;
  return count > 0 ? count : null;
}

/** The paths the request model draws from, as a user would type them. */
function pathsAsked(pages: { bucket: string; webdir: string; index: number }): string {
  const first = pagePath(pages.bucket, pages.webdir, 0);
  return pages.index === 1 ? first : `${first} … ${pagePath(pages.bucket, pages.webdir, pages.index - 1)}`;
}

function bucketNameOf(bucket: string): string {
  const gcs = parseGcsUrl(bucket);
  return gcs ? gcs.bucket : basename(resolve(bucket));
}
