import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ZonelabError } from '../errors.js';
import { parseFault } from '../records/index.js';
import { type CacheSize, resolveCacheSize } from '../storage/index.js';
import { type ControlSocket, startControlSocket } from './control-socket.js';
import { type GrayFault, GrayFaults } from './gray-faults.js';
import type { ServerIdentity } from './identity.js';
import { identityOf, type RunningServer, type ServeOptions, serve } from './serve.js';

/** `--workers`: a number of processes, or `auto` for one per core. */
export type WorkersFlag = number | 'auto';

/** How many worker processes `--workers` asks for on this machine. */
export function resolveWorkers(flag: WorkersFlag, cores = availableParallelism()): number {
  return flag === 'auto' ? Math.max(1, cores) : flag;
}

/** What a worker is told at its start, in its environment: the primary's identity, its share of the cache, the fault in force. */
interface WorkerSetup {
  index: number;
  identity: ServerIdentity;
  cache: CacheSize;
  fault: FaultMessage | null;
}

/** A gray fault as the primary sends it: its text, and since when on the wall clock (each process's monotonic clock has its own origin). */
interface FaultMessage {
  fault: string;
  sinceEpochMs: number;
}

type ToWorker = { zonelab: 'fault'; fault: FaultMessage | null } | { zonelab: 'drain' };
/** A worker says it is serving once its start-up line is written. */
interface FromWorker {
  zonelab: 'ready';
  url: string;
}

const SETUP_ENV = 'ZONELAB_SERVE_WORKER';
/** A worker that dies this many times within RESTART_WINDOW_MS is not started again: the server stops instead. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

const monotonicOf = (epochMs: number) => epochMs - performance.timeOrigin;

/** The setup of this process when it is a worker of `serve --workers`, else null. */
export function workerSetup(): WorkerSetup | null {
  if (!cluster.isWorker) return null;
  const text = process.env[SETUP_ENV];
  if (!text) return null;
  return JSON.parse(text) as WorkerSetup;
}

function applyFault(faults: GrayFaults, message: FaultMessage | null): void {
  if (message === null) {
    faults.clear();
    return;
  }
  faults.set(parseFault(message.fault) as GrayFault, monotonicOf(message.sinceEpochMs));
}

/**
 * One worker: the same server as a single process, with the primary's identity, its share
 * of the cache, an event file and outbox of its own, and the gray faults the primary's
 * control socket sets. `onDrain` is called when the primary asks it to drain.
 */
export async function serveWorker(options: ServeOptions, setup: WorkerSetup, onDrain: () => void): Promise<RunningServer> {
  const grayFaults = new GrayFaults();
  applyFault(grayFaults, setup.fault);
  process.on('message', (message: ToWorker) => {
    if (message?.zonelab === 'fault') applyFault(grayFaults, message.fault);
    else if (message?.zonelab === 'drain') onDrain();
  });
  const running = await serve({ ...options, worker: { index: setup.index, identity: setup.identity, grayFaults, cache: setup.cache } });
  // With a callback: a primary that is gone (killed) must not turn this into an uncaught error.
  process.send?.({ zonelab: 'ready', url: running.server.url } satisfies FromWorker, undefined, undefined, (error: Error | null) => void error);
  return running;
}

/** The primary's gray faults: each change is also sent to every worker. */
class BroadcastGrayFaults extends GrayFaults {
  constructor(private readonly broadcast: (message: FaultMessage | null) => void) {
    super();
  }

  current: FaultMessage | null = null;

  override set(fault: GrayFault, now: number): void {
    super.set(fault, now);
    this.current = { fault: this.describe()!, sinceEpochMs: performance.timeOrigin + now };
    this.broadcast(this.current);
  }

  override clear(): void {
    super.clear();
    this.current = null;
    this.broadcast(null);
  }
}

export interface ServerWorkers {
  readonly url: string;
  readonly identity: ServerIdentity;
  readonly workers: number;
  /** Every worker drains (as one process does), then the control socket closes. Resolves when every worker has exited (those still there after the drain and its grace are killed). */
  shutdown(): Promise<void>;
  /** Settles when the server cannot go on (a worker died too often): the caller drains what is left and exits non-zero. */
  readonly fatal: Promise<Error>;
}

/** After the drain and the in-flight grace (10 s, as one process has), a worker still running is killed. */
const SHUTDOWN_MARGIN_MS = 10_000 + 10_000;

/**
 * `serve --workers N` (N > 1): this process is the primary. It finds the identity once
 * (one server, one zone and name, whatever the number of workers), owns the control socket,
 * and starts N workers that share the listening port: the kernel gives each new
 * connection to one of them (node:cluster with SCHED_NONE: no hand-off through the primary,
 * which would cost a message per connection, and a connection per request is what the
 * experiment sends). A worker that dies is started again; one that cannot start stops all.
 */
export async function serveWithWorkers(options: ServeOptions, workers: number): Promise<ServerWorkers> {
  const { logger } = options;
  const identity = await identityOf(options);
  const total = resolveCacheSize(options.cacheMb);
  // Each worker has a cache of its own: the memory meant for one is shared among them.
  const cache: CacheSize = total.mb === 0 ? total : { mb: Math.max(1, Math.floor(total.mb / workers)), why: `${total.why}, shared by ${workers} workers` };
  const running = new Map<number, Worker>();
  const send = (worker: Worker, message: ToWorker) => {
    if (worker.isConnected()) worker.send(message, (error: Error | null) => void error);
  };
  const faults = new BroadcastGrayFaults((message) => {
    for (const worker of running.values()) send(worker, { zonelab: 'fault', fault: message });
  });
  let control: ControlSocket | undefined;
  if (options.control) control = await startControlSocket(options.control, faults, logger.child({ 'logging.googleapis.com/labels': { zone: identity.zone, instance: identity.instance } }));

  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  const restarts: number[] = [];
  let failed: ((error: Error) => void) | null = null;
  let onReady: ((index: number, url: string) => void) | null = null;
  const exited = new Map<number, Promise<number>>();
  let fatalError: (error: Error) => void = () => {};
  const fatal = new Promise<Error>((resolve) => {
    fatalError = resolve;
  });

  // A worker that died is started again, a little later each time it happens again soon;
  // past MAX_RESTARTS within the window the server stops, with an error.
  const restart = (index: number, status: string, why: string) => {
    const now = performance.now();
    restarts.push(now);
    while (restarts.length > 0 && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS) {
      const message = `worker ${index} ${why} (${status}), the ${restarts.length}th time in ${RESTART_WINDOW_MS / 1000} s: stopping the server`;
      logger.error({ worker: index, exit: status }, message);
      fatalError(new ZonelabError('E_WORKER', message));
      return;
    }
    const delayMs = 250 * (restarts.length - 1);
    logger.error({ worker: index, exit: status }, `worker ${index} ${why} (${status}): starting it again${delayMs ? ` in ${delayMs} ms` : ''}`);
    setTimeout(() => stopping || fork(index), delayMs).unref();
  };

  const fork = (index: number): Worker => {
    const setup: WorkerSetup = { index, identity, cache, fault: faults.current };
    const worker = cluster.fork({ [SETUP_ENV]: JSON.stringify(setup) });
    running.set(index, worker);
    let ready = false;
    // A fork that fails (EAGAIN, ENOMEM) is told here; its 'exit' follows and restarts it.
    worker.on('error', (error) => logger.error({ worker: index, cause: String(error) }, `worker ${index}: ${error.message}`));
    worker.on('message', (message: FromWorker) => {
      if (message?.zonelab !== 'ready') return;
      ready = true;
      // What was sent while the worker was still loading may have come before it listened:
      // the fault in force (and a drain already asked) are sent again now that it does.
      send(worker, { zonelab: 'fault', fault: faults.current });
      if (stopping) send(worker, { zonelab: 'drain' });
      onReady?.(index, message.url);
    });
    exited.set(
      index,
      new Promise<number>((resolve) => {
        worker.once('exit', (code, signal) => {
          running.delete(index);
          const status = signal ? `signal ${signal}` : `code ${code}`;
          resolve(code ?? 1);
          if (stopping) return;
          if (!ready && failed) {
            failed(new ZonelabError('E_WORKER', `worker ${index} exited (${status}) before it was listening: its log lines above say why`));
            return;
          }
          restart(index, status, ready ? 'exited' : 'exited before it was listening again');
        });
      }),
    );
    return worker;
  };

  const shutdown = async () => {
    stopping = true;
    // Each worker drains itself (a SIGTERM to the whole unit reaches them too: asking again is harmless).
    for (const worker of running.values()) send(worker, { zonelab: 'drain' });
    const everyExit = Promise.all(exited.values());
    let killer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      killer = setTimeout(resolve, options.drainSeconds * 1000 + SHUTDOWN_MARGIN_MS);
    });
    if ((await Promise.race([everyExit.then(() => 'exited'), late.then(() => 'late')])) === 'late') {
      const left = [...running.entries()];
      logger.warn({ workers: left.map(([index]) => index) }, `worker(s) ${left.map(([index]) => index).join(', ')} still running after the drain and its grace: killed`);
      for (const [, worker] of left) worker.process.kill('SIGKILL');
    }
    clearTimeout(killer);
    const codes = await everyExit;
    await control?.close();
    if (codes.some((code) => code !== 0)) logger.warn({ codes }, 'stopped; a worker did not exit cleanly');
    else logger.info('stopped');
  };

  try {
    const url = await new Promise<string>((resolve, reject) => {
      failed = reject;
      // By index: a worker that is ready, dies and is ready again counts once.
      const ready = new Set<number>();
      onReady = (index, address) => {
        ready.add(index);
        if (ready.size === workers) resolve(address);
      };
      for (let index = 1; index <= workers; index++) fork(index);
    });
    failed = null;
    onReady = null;
    logger.info(
      { zone: identity.zone, instance: identity.instance, workers, workerPids: [...running.values()].map((worker) => worker.process.pid), cacheMbPerWorker: cache.mb, address: url, pid: process.pid },
      `serving on ${url} as ${identity.instance} in zone ${identity.zone} with ${workers} workers; cache ${cache.mb === 0 ? 'off' : `${cache.mb} MiB each`} (${cache.why})`,
    );
    return { url, identity, workers, shutdown, fatal };
  } catch (error) {
    stopping = true;
    for (const worker of running.values()) worker.process.kill('SIGKILL');
    await Promise.all(exited.values());
    await control?.close();
    throw error;
  }
}
