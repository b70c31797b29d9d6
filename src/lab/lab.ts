import { chmod, mkdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { generateBucket } from '../content/index.js';
import { ZonelabError } from '../errors.js';
import { closestName } from '../suggest.js';
import { drainSecondsFor, type LbBackendView, lbDriver, type LoadBalancer, openLoadBalancer, passthroughSettings, startLoadBalancer } from '../lb/index.js';
import { type Fault, faultClassOf, formatFault, parseFault } from '../records/index.js';
import { checkLabAddresses } from './addresses.js';
import { callControl } from './control-client.js';
import { applyNetworkFault, removeNetworkFault, removeNetworkTable } from './network-faults.js';
import { type LabOptions, planLab } from './plan.js';
import { isOurs, signalIfOurs, spawnDetached, stopIdentified, stopProcess, untilGone } from '../processes.js';
import { initialState, type LabState, loadState, removeState, saveState, type ServerRecord } from './state.js';

const CLI_PATH = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export type StopSignal = 'KILL' | 'TERM' | 'STOP';

export interface BackendStatus {
  server: ServerRecord;
  /** Whether the server process is there (and not paused). */
  process: 'running' | 'paused' | 'stopped';
  /** The load balancer's view, or null when it has none or cannot be asked. */
  lb: LbBackendView | null;
}

export interface InjectOptions {
  /** Called the moment the fault takes effect (the first signal sent, the rules committed, the servers told): what a measurement times it from. */
  onInjected?: () => void;
}

/** A running lab, started here or found again from its state file. */
export interface Lab {
  readonly state: LabState;
  /** Every backend with its process and the load balancer's state of it. */
  status(): Promise<BackendStatus[]>;
  /** The lab's load balancer (its view, its changes with their times), or null before it started. */
  balancer(): LoadBalancer | null;
  /** Stops the servers of a zone or one instance with a signal (the assignment's "kill the web server"). */
  stop(target: string, signal: StopSignal, options?: InjectOptions): Promise<ServerRecord[]>;
  /** Starts them again (or continues them after STOP) and waits until each answers /healthz. */
  start(target: string): Promise<ServerRecord[]>;
  /**
   * Injects a fault into the servers of a zone or one instance: a signal (kill, term,
   * stop), nftables rules (partition, reset) or, through each server's control socket, a
   * gray failure (latency, errors, health-fail, flap). Resolves once it is in place.
   */
  fault(target: string, fault: Fault, options?: InjectOptions): Promise<ServerRecord[]>;
  /** Undoes whatever fault the servers carry and waits until each answers /healthz directly. */
  heal(target: string): Promise<ServerRecord[]>;
  /** Stops every process of the lab and removes its state. */
  down(): Promise<void>;
}

const SIGNAL_OF_FAULT = { kill: 'KILL', term: 'TERM', stop: 'STOP' } as const;

/** A server's command line: its arguments at start, the title it gives itself once running (`zonelab serve <name>`). */
function serverMarker(server: ServerRecord): readonly string[] {
  return [`--instance ${server.name}`, `zonelab serve ${server.name}`];
}

/** GET /healthz straight at a server; true on 200. */
function healthy(host: string, port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, agent: false, timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function waitUntil(what: string, condition: () => Promise<boolean> | boolean, timeoutMs: number, log?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new ZonelabError('E_LAB_START', `${what} within ${Math.round(timeoutMs / 1000)} s${log ? ` (see ${log})` : ''}`);
    await sleep(50);
  }
}

function matching(state: LabState, target: string): ServerRecord[] {
  const found = state.servers.filter((server) => server.zone === target || server.name === target);
  if (found.length === 0) {
    const names = [...new Set(state.servers.flatMap((s) => [s.zone, s.name]))];
    const guess = closestName(target, names);
    throw new ZonelabError('E_NO_TARGET', `no zone or instance named "${target}" in this lab${guess ? `: did you mean ${guess}?` : ''} (there are: ${names.join(', ')})`);
  }
  return found;
}

function labFrom(state: LabState): { lab: Lab; startServer: (server: ServerRecord) => Promise<void> } {
  const save = () => saveState(state);
  // The state file is the truth: another process (a detached "lab start", say) may have
  // restarted a server since this object read it, and its new pid must not be missed.
  // A passive read (status) gives way to any change this process began meanwhile: its
  // state is then newer than the file it read.
  let changing = 0;
  let changesBegun = 0;
  const refresh = async (passive = false) => {
    const begun = changesBegun;
    const latest = await loadState(state.dir).catch(() => null);
    if (!latest || (passive && (changing > 0 || changesBegun !== begun))) return;
    Object.assign(state, latest);
  };

  async function startServer(server: ServerRecord): Promise<void> {
    if (server.state === 'paused' && signalIfOurs(server.pid, serverMarker(server), 'SIGCONT')) {
      server.state = 'running';
    } else if (!isOurs(server.pid, serverMarker(server))) {
      server.pid = spawnDetached(process.execPath, [CLI_PATH, 'serve', ...server.args], server.log);
      server.state = 'running';
    }
    // A started server no longer carries the signal fault that stopped it.
    if (server.fault !== null && faultClassOf(parseFault(server.fault)) === 'signal') server.fault = null;
    await save();
    const pid = server.pid;
    await waitUntil(
      `${server.name} did not answer ${state.spec.requestPath} on ${server.host}:${server.port}`,
      async () => {
        if (!isOurs(pid, serverMarker(server))) throw new ZonelabError('E_LAB_START', `${server.name} exited at start-up (see ${server.log})`);
        return healthy(server.host, server.port, state.spec.requestPath);
      },
      15_000,
      server.log,
    );
  }

  // While this process changes the lab (a page's button runs heal here, say), its own state
  // is the newest: reading the file then could put back a server's old pid mid-change.
  const lab: Lab = {
    state,
    balancer: () => (state.lb ? openLoadBalancer(state.lb) : null),
    async status() {
      await refresh(true);
      let stats: LbBackendView[] | null = null;
      try {
        stats = state.lb ? await openLoadBalancer(state.lb).view() : null;
      } catch {
        stats = null;
      }
      return state.servers.map((server) => ({
        server,
        process: isOurs(server.pid, serverMarker(server)) ? (server.state === 'paused' ? 'paused' : 'running') : 'stopped',
        lb: stats?.find((stat) => stat.server === server.name) ?? null,
      }));
    },
    async stop(target, signal, options) {
      await refresh();
      const servers = matching(state, target);
      for (const server of servers) {
        const marker = serverMarker(server);
        options?.onInjected?.();
        // Its identity from before the signal: after a KILL the command line empties at once,
        // while the process's other threads may hold its listening socket a few ms more.
        const signalled = signalIfOurs(server.pid, marker, `SIG${signal}`);
        if (signalled === null) {
          server.state = 'stopped';
          continue;
        }
        if (signal === 'STOP') {
          server.state = 'paused';
        } else {
          // TERM drains first: wait as long as the drain and the grace after it may take.
          await untilGone(signalled, signal === 'KILL' ? 5000 : drainSecondsFor(state.spec, passthroughSettings(state.lb?.settings).applyDelay) * 1000 + 15_000);
          server.state = 'stopped';
        }
      }
      await save();
      return servers;
    },
    async start(target) {
      await refresh();
      const servers = matching(state, target);
      for (const server of servers) await startServer(server);
      return servers;
    },
    async fault(target, fault, options) {
      await refresh();
      const servers = matching(state, target);
      const faulted = servers.filter((server) => server.fault !== null);
      if (faulted.length > 0) {
        throw new ZonelabError('E_ALREADY_FAULTED', `${faulted.map((s) => `${s.name} already has ${s.fault}`).join(', ')}: heal it first ("zonelab lab heal ${target}")`);
      }
      const kind = faultClassOf(fault);
      if (kind === 'signal') {
        await lab.stop(target, SIGNAL_OF_FAULT[fault.kind as keyof typeof SIGNAL_OF_FAULT], options);
      } else if (kind === 'network') {
        applyNetworkFault(state.nftTable, fault.kind as 'partition' | 'reset', servers);
        options?.onInjected?.();
      } else {
        const down = servers.filter((server) => !isOurs(server.pid, serverMarker(server)) || server.state !== 'running');
        if (down.length > 0) throw new ZonelabError('E_NOT_RUNNING', `${down.map((s) => s.name).join(', ')} not running: a gray fault needs a running server`);
        await Promise.all(servers.map((server) => callControl(server.control, 'PUT', { fault: formatFault(fault) })));
        options?.onInjected?.();
      }
      // stop() re-reads the state file: mark the servers of the state as it is now.
      const current = matching(state, target);
      for (const server of current) server.fault = formatFault(fault);
      await save();
      return current;
    },
    async heal(target) {
      await refresh();
      const servers = matching(state, target);
      const network = servers.filter((server) => server.fault !== null && faultClassOf(parseFault(server.fault)) === 'network');
      if (network.length > 0) removeNetworkFault(state.nftTable, network.map((server) => server.name));
      for (const server of servers) {
        if (server.fault !== null && faultClassOf(parseFault(server.fault)) === 'gray' && isOurs(server.pid, serverMarker(server))) {
          await callControl(server.control, 'DELETE');
        }
        server.fault = null;
      }
      await save();
      // Stopped or frozen servers start again; every one must answer its own check.
      for (const server of servers) await startServer(server);
      return servers;
    },
    async down() {
      await refresh();
      state.stopping = true;
      await save();
      // Servers get TERM twice: the second one skips the drain (nothing is measured now).
      await Promise.all(
        state.servers.map(async (server) => {
          const marker = serverMarker(server);
          if (server.state === 'paused') signalIfOurs(server.pid, marker, 'SIGCONT');
          const signalled = signalIfOurs(server.pid, marker, 'SIGTERM');
          if (signalled !== null) {
            await sleep(100);
            await stopIdentified(signalled, 2000);
          }
          server.state = 'stopped';
        }),
      );
      await Promise.all([state.lb ? openLoadBalancer(state.lb).close() : undefined, stopProcess(state.audit.pid, 'lab-audit', 2000)]);
      // Also after the supervisor was killed: its network rules (a passthrough balancer's
      // and the faults') must not outlive the lab, nor sockets whose processes are gone.
      if (state.nftTable) removeNetworkTable(state.nftTable);
      await Promise.all(state.servers.map((server) => rm(server.control, { force: true })));
      await removeState(state.dir);
    },
  };
  const mutating =
    <A extends unknown[], R>(work: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      changing++;
      changesBegun++;
      try {
        return await work(...args);
      } finally {
        changing--;
      }
    };
  lab.stop = mutating(lab.stop);
  lab.start = mutating(lab.start);
  lab.fault = mutating(lab.fault);
  lab.heal = mutating(lab.heal);
  lab.down = mutating(lab.down);
  return { lab, startServer };
}

/** A lab started earlier (by `lab up --detach`, or by a supervisor that was killed). */
export async function openLab(dir: string): Promise<Lab> {
  return labFrom(await loadState(dir)).lab;
}

export interface StartLabOptions extends LabOptions {
  /** Told of each step as it happens. */
  onProgress?: (message: string) => void;
}

/**
 * Starts a lab: bucket (generated when missing), one server per zone × instance, the audit
 * app, the load balancer; resolves once it reports every backend UP. The state file is
 * written after each process starts, so whatever happens `lab down` finds everything
 * started. If any step fails, what was started is stopped again before the error is thrown.
 */
export async function startLab(options: StartLabOptions): Promise<Lab> {
  const progress = options.onProgress ?? (() => {});
  const plan = planLab(options);
  const driver = lbDriver(plan.lb.kind);
  // What the balancer needs (its program, root) is checked before anything starts.
  driver.check();
  const existing = await loadState(plan.dir).catch(() => null);
  const balancerRuns = existing?.lb?.processes.some((p) => isOurs(p.pid, p.marker)) ?? false;
  if (existing && (balancerRuns || existing.servers.some((s) => isOurs(s.pid, serverMarker(s))))) {
    throw new ZonelabError('E_LAB_RUNNING', `a lab is already running in ${plan.dir} (stop it with "zonelab lab down")`);
  }
  // Every address is checked before anything is started or written.
  await checkLabAddresses(options);
  await mkdir(`${plan.dir}/logs`, { recursive: true });
  // Control sockets are the lab owner's alone: their folder too.
  await mkdir(plan.controlDir, { recursive: true, mode: 0o700 });
  await chmod(plan.controlDir, 0o700);
  // Rules left by a lab in this folder whose supervisor was killed before "lab down".
  removeNetworkTable(plan.nftTable);
  if (!options.bucket.startsWith('gs://')) {
    const generated = await generateBucket({ out: options.bucket, webdir: 'webdir', count: 10_000, seed: 1, ifMissing: true });
    if (!generated.skipped) progress(`generated ${generated.pages} pages in ${options.bucket}`);
  }
  const state = initialState(plan, options.spec);
  await saveState(state);
  const { lab, startServer } = labFrom(state);
  try {
    progress(`starting ${plan.servers.length} servers`);
    // Started together from this one state (no re-reading of the file in between).
    await Promise.all(state.servers.map((server) => startServer(server)));
    state.audit.pid = spawnDetached(process.execPath, [CLI_PATH, 'audit', ...plan.audit.args], plan.audit.log);
    await saveState(state);
    progress(`starting the ${driver.kind} load balancer on ${plan.lbUrl}`);
    const balancer = await startLoadBalancer(driver.kind, {
      spec: options.spec,
      backends: plan.servers,
      listenHost: options.listenHost,
      listenPort: options.listenPort,
      dir: plan.lb.dir,
      nftTable: plan.nftTable,
      settings: options.lbSettings ?? {},
      // Saved as soon as its process exists, so lab down finds it whatever happens next.
      onProcess: async (lbState) => {
        state.lb = lbState;
        await saveState(state);
      },
    });
    state.lb = balancer.state;
    await saveState(state);
    await waitForAllUp(balancer, state);
    return lab;
  } catch (error) {
    await lab.down().catch(() => {});
    throw error;
  }
}

async function waitForAllUp(balancer: LoadBalancer, state: LabState): Promise<void> {
  const spec = state.spec;
  // A passthrough balancer with an apply delay puts its first verdict into effect that much later.
  const applyDelaySec = passthroughSettings(state.lb?.settings).applyDelay;
  const timeoutMs = (spec.healthyThreshold * spec.checkIntervalSec + spec.timeoutSec + applyDelaySec + 10) * 1000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!balancer.running()) throw new ZonelabError('E_LAB_START', `the ${balancer.kind} load balancer exited at start-up (see ${balancer.state.processes[0]?.log})`);
    const view = await balancer.view().catch(() => undefined);
    // A balancer with no view of its own (nginx) is as up as its servers are.
    if (view === null) return;
    if (view && state.servers.every((server) => view.find((stat) => stat.server === server.name)?.status === 'UP')) return;
    if (Date.now() > deadline) throw new ZonelabError('E_LAB_START', `the ${balancer.kind} load balancer did not report every backend UP within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(50);
  }
}
