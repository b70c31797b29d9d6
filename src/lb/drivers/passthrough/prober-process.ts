import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { runNft } from '../../../nft.js';
import type { LbBackend, LbBackendView } from '../driver.js';
import { COUNTERS_CHAIN, parseCounters, serviceScript } from './data-plane.js';
import { BackendHealth, type ProberPolicy, proberOffsets } from './probers.js';

/** Everything the prober process needs, written by the driver into a file it is given. */
export interface ProberConfig {
  table: string;
  backends: LbBackend[];
  requestPath: string;
  intervalMs: number;
  timeoutMs: number;
  policy: ProberPolicy;
  /** `never`: established flows to a backend taken out of service are reset (NEVER_PERSIST). */
  persistence: 'default' | 'never';
  /**
   * How long after the probers' verdict changes who is in service the traffic follows it
   * (the view and the changes record the moment it does). Absent in older configs: 0.
   */
  applyDelayMs?: number;
  /** Where the view is kept (rewritten whole at each change) and the changes appended. */
  viewPath: string;
  changesPath: string;
}

/** What the view file holds. */
export interface ProberView {
  /** When the prober last wrote it, ms since the epoch. */
  at: number;
  /** True while every backend is unhealthy and all of them get traffic ("as a last resort"). */
  failOpen: boolean;
  backends: (LbBackendView & { since: number })[];
}

export function readProberConfig(path: string): ProberConfig {
  return JSON.parse(readFileSync(path, 'utf8')) as ProberConfig;
}

/** One probe: GET the check path, healthy on 200 within the timeout. */
function probe(backend: LbBackend, path: string, timeoutMs: number): Promise<{ ok: boolean; said: string }> {
  return new Promise((resolve) => {
    const req = request({ host: backend.host, port: backend.port, path, agent: false, signal: AbortSignal.timeout(timeoutMs), headers: { 'User-Agent': 'GoogleHC/1.0 (zonelab prober)' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode === 200, said: String(res.statusCode) }));
      res.on('error', () => resolve({ ok: false, said: 'reset' }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      const said = error.name === 'AbortError' || error.name === 'TimeoutError' ? 'timeout' : error.code === 'ECONNREFUSED' ? 'refused' : error.code === 'ECONNRESET' ? 'reset' : (error.code ?? 'error');
      resolve({ ok: false, said });
    });
    req.end();
  });
}

/**
 * The prober: probes every backend from `policy.probers` probers on Google's schedule,
 * applies each change of who is in service to the nftables map in one transaction, and
 * records it with the time it took effect. Runs until `signal` aborts.
 */
export async function runProber(config: ProberConfig, signal: AbortSignal, say: (line: string) => void = () => {}): Promise<void> {
  const health = new Map(config.backends.map((backend) => [backend.name, new BackendHealth(config.policy)]));
  const since = new Map(config.backends.map((backend) => [backend.name, Date.now()]));
  const statuses = new Map<string, string>();
  /** Who the nftables map sends traffic to now (the verdict may be ahead of it by applyDelayMs). */
  let applied = new Set<string>();
  let failOpen = false;

  const writeView = () => {
    const counters = (() => {
      try {
        const listed = runNft(['-j', 'list', 'chain', 'inet', config.table, COUNTERS_CHAIN]);
        return listed.ok ? parseCounters(listed.output) : new Map<string, number>();
      } catch {
        return new Map<string, number>();
      }
    })();
    const view: ProberView = {
      at: Date.now(),
      failOpen,
      backends: config.backends.map((backend) => {
        const h = health.get(backend.name)!;
        return {
          server: backend.name,
          // What took effect: a verdict not applied yet is not shown either.
          status: statuses.get(backend.name) ?? h.status,
          up: applied.has(backend.name),
          checkStatus: h.lastAnswers,
          sessionsTotal: counters.get(backend.name) ?? null,
          failedTotal: null,
          redispatchedTotal: null,
          since: since.get(backend.name)!,
        };
      }),
    };
    writeFileSync(`${config.viewPath}.tmp`, `${JSON.stringify(view)}\n`);
    renameSync(`${config.viewPath}.tmp`, config.viewPath);
  };

  /** Rewrites the map for who is in service now; returns when the kernel has it. */
  const apply = (): number => {
    const inService = config.backends.filter((backend) => health.get(backend.name)!.inService);
    // Every backend unhealthy: "the load balancer distributes new connections among all
    // backends as a last resort" (https://cloud.google.com/load-balancing/docs/network/ext-netlb-traffic-distribution).
    failOpen = inService.length === 0;
    const serving = failOpen ? config.backends : inService;
    applied = new Set(serving.map((backend) => backend.name));
    const out = failOpen ? [] : config.backends.filter((backend) => !inService.includes(backend));
    const result = runNft(['-f', '-'], `${serviceScript(config.table, serving, out, config.persistence === 'never')}\n`);
    if (!result.ok) say(`nft refused the change: ${result.output.split('\n')[0]}`);
    return Date.now();
  };

  const note = (at: number) => {
    let changed = false;
    for (const backend of config.backends) {
      const status = health.get(backend.name)!.status;
      if (statuses.get(backend.name) === status) continue;
      statuses.set(backend.name, status);
      since.set(backend.name, at);
      changed = true;
      appendFileSync(config.changesPath, `${JSON.stringify({ at, server: backend.name, status })}\n`);
      say(`${new Date(at).toISOString()} ${backend.name} ${status}`);
    }
    if (changed) writeView();
  };
  // The last answers and the counters move with every probe: the view follows once a second.
  const refresher = setInterval(writeView, 1000);

  note(apply());
  const timers = new Set<NodeJS.Timeout>();
  // A verdict that changes who is in service takes effect `applyDelayMs` later, together with
  // whatever else changed meanwhile; until then the record waits too, so every change it
  // holds is one the traffic already followed.
  let pending: NodeJS.Timeout | null = null;
  const verdictChanged = () => {
    const delay = config.applyDelayMs ?? 0;
    if (delay <= 0) {
      note(apply());
      return;
    }
    if (pending !== null) return;
    pending = setTimeout(() => {
      timers.delete(pending!);
      pending = null;
      if (!signal.aborted) note(apply());
    }, delay);
    timers.add(pending);
  };
  const offsets = proberOffsets(config.policy.probers, config.intervalMs);
  const started = performance.now();
  for (const backend of config.backends) {
    offsets.forEach((offset, prober) => {
      // Fixed rate: each probe leaves on its own schedule, whether or not the last one answered.
      let k = 0;
      const next = () => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (signal.aborted) return;
          next();
          void probe(backend, config.requestPath, config.timeoutMs).then(({ ok, said }) => {
            if (signal.aborted) return;
            const changed = health.get(backend.name)!.record(prober, ok, said);
            if (changed) verdictChanged();
            else if (pending === null) note(Date.now());
          });
        }, Math.max(0, started + offset + k++ * config.intervalMs - performance.now()));
        timers.add(timer);
      };
      next();
    });
  }
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  clearInterval(refresher);
  for (const timer of timers) clearTimeout(timer);
}
