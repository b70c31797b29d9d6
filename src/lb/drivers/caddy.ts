import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZonelabError } from '../../errors.js';
import { isOurs, spawnDetached, stopProcess } from '../../processes.js';
import type { LoadBalancerSpec } from '../spec.js';
import type { LbBackend, LbBackendView, LbDriver, LbLimitation, LbState, LbStateChange, LoadBalancer } from './driver.js';
import { readLinesFrom, untilStarted } from './start-helpers.js';

export function caddyVersion(): string | null {
  const result = spawnSync('caddy', ['version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return null;
  return /v?(\d+\.\d+\.\d+\S*)/.exec(result.stdout)?.[1] ?? 'unknown';
}

/**
 * Caddy's JSON configuration for a spec: a pure function. Caddy 2.6's reverse proxy checks
 * each upstream every `health_interval` with `health_timeout` and has no thresholds (they
 * came with 2.7): one failed check marks an upstream down, one passing check brings it back
 * (https://caddyserver.com/docs/caddyfile/directives/reverse_proxy#active-health-checks).
 * `zero-error`'s extras are Caddy's passive checks (an upstream's failed request marks it
 * down for `fail_duration`) and retries within `try_duration`. The admin API is off: the
 * balancer's own view is its log, where the health checker reports every change.
 */
export function renderCaddyConfig(spec: LoadBalancerSpec, backends: readonly LbBackend[], options: { listenHost: string; listenPort: number; log: string }): string {
  const seconds = (value: number) => `${value}s`;
  const policy = spec.balance === 'leastconn' ? 'least_conn' : spec.balance === 'source' ? 'ip_hash' : 'round_robin';
  const zeroError = spec.retries > 0 || spec.redispatch || spec.observeErrors;
  const proxy = {
    handler: 'reverse_proxy',
    upstreams: backends.map((backend) => ({ dial: `${backend.host}:${backend.port}` })),
    load_balancing: {
      selection_policy: { policy },
      // A failed connection is tried on another upstream for this long.
      ...(zeroError ? { try_duration: seconds(spec.checkIntervalSec * 2), try_interval: '50ms' } : {}),
    },
    health_checks: {
      active: { uri: spec.requestPath, interval: seconds(spec.checkIntervalSec), timeout: seconds(spec.timeoutSec), expect_status: 200 },
      ...(spec.observeErrors ? { passive: { max_fails: 1, fail_duration: seconds(spec.checkIntervalSec * spec.healthyThreshold), unhealthy_status: [500, 502, 503, 504] } } : {}),
    },
  };
  const config = {
    admin: { disabled: true },
    logging: { logs: { default: { writer: { output: 'file', filename: options.log }, encoder: { format: 'json' }, level: 'DEBUG' } } },
    apps: { http: { servers: { zonelab: { listen: [`${options.listenHost}:${options.listenPort}`], automatic_https: { disable: true }, routes: [{ handle: [proxy] }] } } } },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** The line Caddy logs once it serves the configuration it runs. */
const SERVING = '"msg":"serving initial configuration"';

/** One line of Caddy's JSON log as a state change of an upstream, or null. Pure. */
export function parseCaddyLogLine(line: string, nameOf: (address: string) => string | undefined): LbStateChange | null {
  let entry: { ts?: number; logger?: string; msg?: string; name?: string; data?: { host?: string } };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    return null;
  }
  // The events app reports each change of an upstream's health ("healthy", "unhealthy").
  if (entry.logger !== 'events' || (entry.name !== 'healthy' && entry.name !== 'unhealthy')) return null;
  const server = entry.data?.host ? nameOf(entry.data.host) : undefined;
  if (!server || typeof entry.ts !== 'number') return null;
  return { at: entry.ts * 1000, server, status: entry.name === 'healthy' ? 'UP' : 'DOWN' };
}

function limitations(spec: LoadBalancerSpec): LbLimitation[] {
  const found: LbLimitation[] = [
    { field: 'healthyThreshold', says: "Caddy 2.6 has no thresholds: one passing check brings a backend back, one failed check takes it out (the spec's thresholds are not applied)" },
  ];
  if (spec.mode === 'tcp') found.push({ field: 'mode', says: "Caddy's core proxies HTTP only: mode tcp is served as http" });
  if (spec.retries > 0) found.push({ field: 'retries', says: 'Caddy retries a failed connection on another upstream for a time (try_duration), not a number of times' });
  return found;
}

function openCaddy(state: LbState): LoadBalancer {
  const process = state.processes[0]!;
  const config = state.files.config!;
  const log = state.files.log!;
  const backends = state.backends;
  const nameOf = (address: string) => backends.find((backend) => `${backend.host}:${backend.port}` === address)?.name;
  const changesFrom = async (cursor: number) => {
    const read = await readLinesFrom(log, cursor);
    let lines = read.lines;
    if (cursor === 0) {
      // Caddy provisions the configuration once and throws that copy away before it serves
      // the one it runs; the discarded copy's health checker may log "unhealthy" for every
      // upstream as its checks are cancelled. Only what follows the start of serving counts.
      const serving = lines.findLastIndex((line) => line.includes(SERVING));
      if (serving === -1) return { changes: [], cursor: 0 };
      lines = lines.slice(serving + 1);
    }
    return { changes: lines.map((line) => parseCaddyLogLine(line, nameOf)).filter((change): change is LbStateChange => change !== null), cursor: read.cursor };
  };
  return {
    kind: 'caddy',
    state,
    async view(): Promise<LbBackendView[]> {
      // Caddy starts every upstream healthy; its log says each change since.
      const { changes } = await changesFrom(0);
      return backends.map((backend) => {
        const last = changes.filter((change) => change.server === backend.name).at(-1);
        const status = last?.status ?? 'UP';
        return { server: backend.name, status, up: status === 'UP', checkStatus: '', sessionsTotal: null, failedTotal: null, redispatchedTotal: null };
      });
    },
    changes: changesFrom,
    running: () => isOurs(process.pid, config),
    async close() {
      await stopProcess(process.pid, config, 2000);
    },
  };
}

export const caddyDriver: LbDriver = {
  kind: 'caddy',
  summary: "Caddy 2.6, an HTTP proxy: its active check decides on a single check (it has no thresholds)",
  hasView: true,
  hasCounters: false,
  program: () => ({ name: 'Caddy', version: caddyVersion(), install: 'apt-get install -y caddy' }),
  check() {
    if (caddyVersion() === null) throw new ZonelabError('E_NO_PROGRAM', 'Caddy is not installed: install it with "apt-get install -y caddy" (or choose another --lb)');
  },
  limitations,
  async start(options) {
    caddyDriver.check();
    await mkdir(options.dir, { recursive: true });
    const files = { config: join(options.dir, 'caddy.json'), log: join(options.dir, 'caddy.log'), out: join(options.dir, 'caddy.out') };
    await writeFile(files.config, renderCaddyConfig(options.spec, options.backends, { listenHost: options.listenHost, listenPort: options.listenPort, log: files.log }));
    const validated = spawnSync('caddy', ['validate', '--config', files.config], { encoding: 'utf8' });
    if (validated.status !== 0) throw new ZonelabError('E_BAD_SPEC', `Caddy rejects ${files.config}: ${(validated.stderr || validated.stdout).trim().split('\n').at(-1)}`);
    const state: LbState = {
      kind: 'caddy',
      processes: [{ pid: null, marker: files.config, log: files.out }],
      listenHost: options.listenHost,
      listenPort: options.listenPort,
      backends: [...options.backends],
      files,
      settings: {},
    };
    // HOME: Caddy keeps its data (certificates, which it makes none of here) in the lab's folder.
    state.processes[0]!.pid = spawnDetached('caddy', ['run', '--config', files.config], files.out, { ...process.env, HOME: options.dir, XDG_DATA_HOME: options.dir, XDG_CONFIG_HOME: options.dir });
    await options.onProcess?.(state);
    return untilStarted(openCaddy(state), {
      // Serving once its log says the server started.
      ready: async () => (await readFile(files.log, 'utf8').catch(() => '')).includes(SERVING),
      log: files.out,
      pollMs: 50,
      exited: (tail) => new ZonelabError('E_LAB_START', `Caddy exited at start-up:\n${tail}`),
      late: () => new ZonelabError('E_LAB_START', `Caddy did not start within 10 s (see ${files.out})`),
    });
  },
  open: openCaddy,
};
