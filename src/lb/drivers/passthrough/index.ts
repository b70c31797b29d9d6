import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZonelabError } from '../../../errors.js';
import { canUseNft, runNft } from '../../../nft.js';
import { isOurs, spawnDetached, stopProcess } from '../../../processes.js';
import type { LoadBalancerSpec } from '../../spec.js';
import type { LbDriver, LbLimitation, LbState, LbStateChange, LoadBalancer } from '../driver.js';
import { readLinesFrom, untilStarted } from '../start-helpers.js';
import { setupScript } from './data-plane.js';
import type { ProberConfig, ProberView } from './prober-process.js';
import { PROBER_RULES, type ProberRule } from './probers.js';

export { parseCounters, serviceScript, setupScript, SLOTS } from './data-plane.js';
export { readProberConfig, runProber, type ProberConfig, type ProberView } from './prober-process.js';
export { BackendHealth, outAt, PROBER_RULES, type ProberPolicy, type ProberRule, proberOffsets } from './probers.js';

const CLI_PATH = fileURLToPath(new URL('../../../cli/main.js', import.meta.url));

/** The passthrough balancer's settings, with their defaults. */
export interface PassthroughSettings {
  /** Probers that each check every backend every interval; default 3. */
  probers: number;
  /** How many probers' "unhealthy" take a backend out; default majority. */
  proberRule: ProberRule;
  /** Established flows to a backend taken out of service: kept (default) or reset (never). */
  persistence: 'default' | 'never';
  /**
   * Seconds between a change of the probers' verdict and the traffic following it; default
   * 0. Google Cloud takes some such time and does not document it: this lets the lab show
   * what it would cost (a drain shorter than it drops connections, see drainSecondsFor).
   */
  applyDelay: number;
}

export function passthroughSettings(settings: Record<string, string | number | boolean> = {}): PassthroughSettings {
  const probers = Number(settings.probers ?? 3);
  const proberRule = String(settings.proberRule ?? 'majority') as ProberRule;
  const persistence = String(settings.persistence ?? 'default') as 'default' | 'never';
  const applyDelay = Number(settings.applyDelay ?? 0);
  if (!Number.isFinite(applyDelay) || applyDelay < 0 || applyDelay > 600) throw new ZonelabError('E_BAD_ARGUMENT', `--apply-delay ${settings.applyDelay}: expected seconds from 0 to 600`);
  if (!Number.isInteger(probers) || probers < 1 || probers > 16) throw new ZonelabError('E_BAD_ARGUMENT', `--probers ${settings.probers}: expected an integer from 1 to 16`);
  if (!PROBER_RULES.includes(proberRule)) throw new ZonelabError('E_BAD_ARGUMENT', `--prober-rule ${proberRule}: expected ${PROBER_RULES.join(', ')}`);
  if (persistence !== 'default' && persistence !== 'never') throw new ZonelabError('E_BAD_ARGUMENT', `--connection-persistence ${persistence}: expected default or never`);
  return { probers, proberRule, persistence, applyDelay };
}

function limitations(spec: LoadBalancerSpec): LbLimitation[] {
  const found: LbLimitation[] = [];
  if (spec.mode === 'http') found.push({ field: 'mode', says: 'it forwards packets and never reads HTTP: mode http is served as tcp' });
  if (spec.retries > 0 || spec.redispatch) found.push({ field: 'retries', says: 'it retries nothing: a connection to a dead backend fails, as on Google Cloud' });
  if (spec.observeErrors) found.push({ field: 'observeErrors', says: 'it watches no traffic: only its probes decide' });
  if (spec.balance !== 'source') found.push({ field: 'balance', says: `no ${spec.balance}: as Google Cloud's (session affinity NONE), it hashes each new connection's addresses and ports, so the zones' shares are near, not exactly, equal` });
  return found;
}

/** Removes the balancer's chains and map; the table too once nothing else is in it. */
function removeDataPlane(table: string): void {
  if (!canUseNft()) return;
  for (const chain of ['lb_nat', 'lb_count', 'lb_persist']) runNft(['delete', 'chain', 'inet', table, chain]);
  runNft(['delete', 'map', 'inet', table, 'lb_backends']);
  const left = runNft(['list', 'table', 'inet', table]);
  if (left.ok && !/\b(chain|map|set) \S+ \{/.test(left.output)) runNft(['delete', 'table', 'inet', table]);
}

function openPassthrough(state: LbState): LoadBalancer {
  const process = state.processes[0]!;
  const { view: viewPath, changes: changesPath, config: configPath } = state.files as { view: string; changes: string; config: string };
  const table = state.files.table!;
  return {
    kind: 'passthrough',
    state,
    async view() {
      const view = JSON.parse(await readFile(viewPath, 'utf8')) as ProberView;
      return view.backends.map(({ since: _since, ...backend }) => backend);
    },
    async changes(cursor) {
      const read = await readLinesFrom(changesPath, cursor);
      return { changes: read.lines.map((line) => JSON.parse(line) as LbStateChange), cursor: read.cursor };
    },
    running: () => isOurs(process.pid, configPath),
    async close() {
      await stopProcess(process.pid, configPath, 2000);
      removeDataPlane(table);
    },
  };
}

export const passthroughDriver: LbDriver = {
  kind: 'passthrough',
  summary: "a passthrough network load balancer like Google Cloud's: nftables forwards packets (the client's address kept, flows pinned), probers on Google's schedule decide",
  hasView: true,
  hasCounters: true,
  program: () => {
    let version: string | null = null;
    try {
      const result = runNft(['--version']);
      version = result.ok ? (/v(\S+)/.exec(result.output)?.[1] ?? 'unknown') : null;
    } catch {
      version = null;
    }
    return { name: 'nftables', version, install: 'apt-get install -y nftables (and run as root)' };
  },
  limitations,
  check() {
    if (!canUseNft()) {
      throw new ZonelabError('E_NEED_ROOT', 'the passthrough load balancer forwards packets with nftables rules: run as root (with nftables installed), or choose a proxy with --lb haproxy');
    }
  },
  async start(options) {
    passthroughDriver.check();
    const settings = passthroughSettings(options.settings);
    await mkdir(options.dir, { recursive: true });
    const files = {
      config: join(options.dir, 'prober.json'),
      view: join(options.dir, 'view.json'),
      changes: join(options.dir, 'changes.ndjson'),
      log: join(options.dir, 'prober.log'),
      table: options.nftTable,
    };
    const config: ProberConfig = {
      table: options.nftTable,
      backends: [...options.backends],
      requestPath: options.spec.requestPath,
      intervalMs: options.spec.checkIntervalSec * 1000,
      timeoutMs: options.spec.timeoutSec * 1000,
      policy: { probers: settings.probers, rule: settings.proberRule, healthyThreshold: options.spec.healthyThreshold, unhealthyThreshold: options.spec.unhealthyThreshold },
      persistence: settings.persistence,
      applyDelayMs: settings.applyDelay * 1000,
      viewPath: files.view,
      changesPath: files.changes,
    };
    await writeFile(files.config, `${JSON.stringify(config, null, 2)}\n`);
    await rm(files.changes, { force: true });
    await rm(files.view, { force: true });
    const balance = options.spec.balance === 'source' ? 'client-ip' : 'five-tuple';
    const setup = runNft(['-f', '-'], `${setupScript({ table: options.nftTable, listenHost: options.listenHost, listenPort: options.listenPort, balance }, options.backends)}\n`);
    if (!setup.ok) throw new ZonelabError('E_NETWORK_FAULT', `nft refused the passthrough balancer's rules: ${setup.output.split('\n')[0]}`);
    const state: LbState = {
      kind: 'passthrough',
      processes: [{ pid: null, marker: files.config, log: files.log }],
      listenHost: options.listenHost,
      listenPort: options.listenPort,
      backends: [...options.backends],
      files,
      settings: { ...settings },
    };
    state.processes[0]!.pid = spawnDetached(process.execPath, [CLI_PATH, 'lab', 'prober', '--config', files.config], files.log);
    await options.onProcess?.(state);
    const balancer = openPassthrough(state);
    return untilStarted(balancer, {
      ready: () => balancer.view().then(() => true, () => false),
      log: files.log,
      pollMs: 20,
      exited: (tail) => new ZonelabError('E_LAB_START', `the passthrough balancer's prober exited at start-up:\n${tail}`),
      late: () => new ZonelabError('E_LAB_START', `the passthrough balancer's prober wrote no view within 10 s (see ${files.log})`),
    });
  },
  open: openPassthrough,
};
