import { mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequestModel, LiveStatus, openNdjsonFile, openResultsFile, type RequestResult, runLoad } from '../client/index.js';
import { ZonelabError } from '../errors.js';
import { type Lab, type LabOptions, startLab } from '../lab/index.js';
import { type LoadBalancerSpec, showServers } from '../lb/index.js';
import { parseGcsUrl } from '../storage/index.js';
import { runShellCommand } from './fault-command.js';
import { computeFailoverMetrics, failed, type FailoverMetrics } from './metrics.js';
import type { RunEvent } from './records.js';
import { writeReport } from './write-report.js';

export type FaultKind = 'kill' | 'term' | 'stop';

/** How the run was set up: everything the report states and `zonelab report` needs again. */
export interface ExperimentSetup {
  where: 'lab' | 'target';
  url: string;
  zones: string[];
  instancesPerZone: number | null;
  spec: LoadBalancerSpec | null;
  fault: FaultKind | 'command';
  faultZone: string;
  faultInstances: string[];
  killCommand: string | null;
  restartCommand: string | null;
  rate: number;
  keepalive: boolean;
  warmupMs: number;
  holdMs: number;
  maxWaitMs: number;
  timeoutMs: number;
  startedAt: string;
  /** The command line that reproduces the run. */
  command: string;
}

export interface TargetOptions {
  url: string;
  /** Shell command that faults the zone. */
  kill: string;
  /** Shell command that restarts it and returns once it is ready. */
  restart: string;
  /** How long either command may run before it is stopped, ms; default 180000. */
  commandTimeoutMs?: number;
  /**
   * The load balancer's spec as its owner states it (e.g. the flags `zonelab gcp up`
   * printed): the report shows it and the bounds it implies. Null: unknown.
   */
  spec?: LoadBalancerSpec | null;
}

export interface ExperimentOptions {
  /** Start a lab (the default) … */
  lab?: Omit<LabOptions, 'dir'>;
  /** … or measure any load balancer, with shell commands as the fault. */
  target?: TargetOptions;
  /** What the requests ask for (the course client's -b, -w, -i); default the lab bucket's pages. */
  pages?: Partial<{ bucket: string; webdir: string; index: number }>;
  fault: FaultKind;
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
}

export interface ExperimentResult {
  dir: string;
  setup: ExperimentSetup;
  metrics: FailoverMetrics;
  interrupted: boolean;
}

const SIGNAL_OF = { kill: 'KILL', term: 'TERM', stop: 'STOP' } as const;

/**
 * The failover experiment: load at a fixed rate on new connections, warm-up, fault on one
 * zone, wait until traffic is rerouted and stable for `holdMs`, restart the zone, wait until
 * it serves again and `holdMs` more, stop. Records and events are written as they happen;
 * metrics and the report are computed from them at the end. Everything started is stopped,
 * and a faulted zone restarted, whatever happens (Ctrl-C included).
 */
export async function runExperiment(options: ExperimentOptions): Promise<ExperimentResult> {
  if (!options.lab === !options.target) throw new ZonelabError('E_BAD_ARGUMENT', 'an experiment needs either a lab or a target');
  await mkdir(options.outDir, { recursive: true });
  const step = options.onStep ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 2000;
  const commandTimeoutMs = options.target?.commandTimeoutMs ?? 180_000;

  let lab: Lab | null = null;
  if (options.lab) {
    if (!options.lab.zones.includes(options.faultZone)) {
      throw new ZonelabError('E_BAD_ARGUMENT', `--fault-zone ${options.faultZone} is not one of the zones (${options.lab.zones.join(', ')})`);
    }
    step(`starting the lab (profile ${options.lab.spec.profile}, mode ${options.lab.spec.mode})`);
    lab = await startLab({ ...options.lab, dir: join(options.outDir, 'lab') });
  }
  const setup: ExperimentSetup = {
    where: lab ? 'lab' : 'target',
    url: lab ? lab.state.lbUrl : options.target!.url,
    zones: options.lab?.zones ?? [],
    instancesPerZone: options.lab?.instancesPerZone ?? null,
    spec: options.lab?.spec ?? options.target?.spec ?? null,
    fault: lab ? options.fault : 'command',
    faultZone: options.faultZone,
    faultInstances: lab ? lab.state.servers.filter((s) => s.zone === options.faultZone).map((s) => s.name) : [],
    killCommand: options.target?.kill ?? null,
    restartCommand: options.target?.restart ?? null,
    rate: options.rate,
    keepalive: options.keepalive,
    warmupMs: options.warmupMs,
    holdMs: options.holdMs,
    maxWaitMs: options.maxWaitMs,
    timeoutMs,
    startedAt: new Date().toISOString(),
    command: options.command,
  };

  const records: RequestResult[] = [];
  const events: RunEvent[] = [];
  const results = await openResultsFile(join(options.outDir, 'results.ndjson'));
  const eventsFile = await openNdjsonFile<RunEvent>(join(options.outDir, 'events.ndjson'));
  const live = new LiveStatus();
  const epoch = performance.now();
  const now = () => Math.round((performance.now() - epoch) * 1000) / 1000;
  let phase = 'warm-up';
  const addEvent = (event: RunEvent) => {
    events.push(event);
    eventsFile.write(event);
  };

  // What the phase logic watches: the last request (after the fault) that failed or still
  // reached the faulted zone, and the first one the restarted zone served.
  let faultAt: number | null = null;
  let restartAt: number | null = null;
  let lastBadSentAt: number | null = null;
  let firstReturnAt: number | null = null;
  const stopLoad = new AbortController();
  // The lab serves its bucket under the bucket's own name: ask for the pages it holds.
  const pages = { bucket: lab ? bucketNameOf(options.lab!.bucket) : 'bucket', webdir: 'webdir', index: 10_000, ...options.pages };
  const next = createRequestModel({ ...pages, seed: 1 });
  const url = new URL(setup.url);

  addEvent({ at: 0, kind: 'phase', target: 'warm-up', detail: '' });
  const load = runLoad({
    origin: `${url.protocol}//${url.host}`,
    next,
    mode: { kind: 'open', rate: options.rate },
    keepalive: options.keepalive,
    connections: Math.max(1, Math.ceil(options.rate / 10)),
    timeoutMs,
    retries: 0,
    follow: false,
    signal: stopLoad.signal,
    epoch,
    onResult: (record) => {
      records.push(record);
      results.write(record);
      live.record(record, now());
      if (faultAt !== null && record.sentAt >= faultAt && (restartAt === null || record.sentAt < restartAt)) {
        if (failed(record) || record.zone === options.faultZone) lastBadSentAt = Math.max(lastBadSentAt ?? 0, record.sentAt);
      }
      if (restartAt !== null && firstReturnAt === null && record.sentAt >= restartAt && !failed(record) && record.zone === options.faultZone) {
        firstReturnAt = record.sentAt;
      }
    },
  });

  // HAProxy's own view, every 100 ms, as lb-state events on each change.
  const pollerStop = new AbortController();
  const poller = (async () => {
    if (!lab) return;
    const last = new Map<string, string>();
    while (!pollerStop.signal.aborted) {
      try {
        for (const stat of await showServers(lab.state.haproxy.socketPath)) {
          if (last.get(stat.server) !== stat.status) {
            last.set(stat.server, stat.status);
            addEvent({ at: now(), kind: 'lb-state', target: stat.server, detail: stat.status });
          }
        }
      } catch {
        // HAProxy busy or gone (at the end): try again.
      }
      await sleep(100, undefined, { signal: pollerStop.signal }).catch(() => {});
    }
  })();

  const ticker = setInterval(() => options.onStatus?.(`${phase.padEnd(9)} ${live.line(now())}`), 500).unref();
  const wait = (ms: number) => sleep(ms, undefined, { signal: options.signal }).catch(() => {});
  let faulted = false;
  let restarted = false;
  try {
    await wait(options.warmupMs);
    if (!options.signal.aborted) {
      phase = 'fault';
      faulted = true;
      if (lab) {
        faultAt = now();
        addEvent({ at: faultAt, kind: 'fault', target: options.faultZone, detail: options.fault });
        step(`fault: ${options.fault} ${options.faultZone} at ${(faultAt / 1000).toFixed(1)} s`);
        await lab.stop(options.faultZone, SIGNAL_OF[options.fault]);
      } else {
        // A remote kill happens at the end of its command (after e.g. an ssh handshake of a
        // second or more), so the fault is timed when the command returns, not when it starts.
        const startedAt = now();
        addEvent({ at: startedAt, kind: 'phase', target: 'fault-command', detail: options.target!.kill });
        step(`fault command: ${options.target!.kill} at ${(startedAt / 1000).toFixed(1)} s`);
        await runShellCommand(options.target!.kill, commandTimeoutMs);
        faultAt = now();
        addEvent({ at: faultAt, kind: 'fault', target: options.faultZone, detail: `${options.target!.kill} (returned after ${faultAt - startedAt} ms)` });
        step(`fault: command returned at ${(faultAt / 1000).toFixed(1)} s`);
      }
      phase = 'rerouting';
      addEvent({ at: now(), kind: 'phase', target: 'outage', detail: '' });
      const rerouted = await until(() => now() - Math.max(lastBadSentAt ?? 0, faultAt!) >= options.holdMs, () => now() - faultAt! > options.maxWaitMs, options.signal);
      if (!rerouted && !options.signal.aborted) {
        addEvent({ at: now(), kind: 'phase', target: 'not-rerouted', detail: `after ${options.maxWaitMs} ms` });
        step(`not rerouted within ${options.maxWaitMs / 1000} s`);
      }
    }
    if (faulted) {
      phase = 'restart';
      restartAt = now();
      addEvent({ at: restartAt, kind: 'recover', target: options.faultZone, detail: lab ? 'start' : options.target!.restart });
      step(`restart: ${lab ? `start ${options.faultZone}` : options.target!.restart} at ${(restartAt / 1000).toFixed(1)} s`);
      if (lab) await lab.start(options.faultZone);
      else await runShellCommand(options.target!.restart, commandTimeoutMs);
      restarted = true;
      const readyAt = now();
      addEvent({ at: readyAt, kind: 'server-ready', target: options.faultZone, detail: lab ? 'answers its health check' : 'restart command finished' });
      phase = 'returning';
      addEvent({ at: now(), kind: 'phase', target: 'return', detail: '' });
      const returned = await until(
        () => firstReturnAt !== null && now() - firstReturnAt >= options.holdMs,
        () => now() - restartAt! > options.maxWaitMs + (firstReturnAt === null ? 0 : options.holdMs),
        options.signal,
      );
      if (!returned && !options.signal.aborted) {
        addEvent({ at: now(), kind: 'phase', target: 'not-returned', detail: `after ${options.maxWaitMs} ms` });
        step(`zone ${options.faultZone} not serving again within ${options.maxWaitMs / 1000} s`);
      }
    }
  } finally {
    clearInterval(ticker);
    addEvent({ at: now(), kind: 'phase', target: 'done', detail: options.signal.aborted ? 'interrupted' : '' });
    stopLoad.abort();
    await load;
    pollerStop.abort();
    await poller;
    await Promise.all([results.close(), eventsFile.close()]);
    // Put back what the experiment broke, even when it was interrupted half-way.
    if (faulted && !restarted && !lab) await runShellCommand(options.target!.restart, commandTimeoutMs).catch(() => {});
    if (lab) await lab.down();
  }
  const metrics = computeFailoverMetrics(records, events, { zone: options.faultZone, instances: setup.faultInstances });
  await writeReport(options.outDir, setup, records, events, metrics);
  return { dir: options.outDir, setup, metrics, interrupted: options.signal.aborted };
}

/** Polls `condition` every 100 ms; false once `givenUp()` holds or when interrupted. */
async function until(condition: () => boolean, givenUp: () => boolean, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    if (condition()) return true;
    if (givenUp()) return false;
    await sleep(100);
  }
  return false;
}

function bucketNameOf(bucket: string): string {
  const gcs = parseGcsUrl(bucket);
  return gcs ? gcs.bucket : basename(resolve(bucket));
}
