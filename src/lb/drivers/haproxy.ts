import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZonelabError } from '../../errors.js';
import { isOurs, spawnDetached, stopProcess } from '../../processes.js';
import { renderHaproxyConfig } from '../haproxy-config.js';
import { showServers } from '../runtime-api.js';
import type { LoadBalancerSpec } from '../spec.js';
import type { LbBackendView, LbDriver, LbLimitation, LbState, LbStateChange, LoadBalancer } from './driver.js';
import { readLinesFrom, untilStarted } from './start-helpers.js';

export function haproxyVersion(): string | null {
  const result = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return null;
  return /version (\S+)/i.exec(result.stdout)?.[1] ?? 'unknown';
}

/** `haproxy -c`: null when the config is valid, else HAProxy's own message. */
export function checkHaproxyConfig(configPath: string): string | null {
  const result = spawnSync('haproxy', ['-c', '-f', configPath], { encoding: 'utf8' });
  if (result.status === 0) return null;
  return `${result.stdout}${result.stderr}`.trim();
}

// "2026-12-01T21:33:54.199261+00:00 <message>": HAProxy's `log stdout format iso`, with
// microseconds (its configuration manual, "log" keyword, format "iso").
const ISO_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d) (.*)$/;
// What `option log-health-checks` logs for each check that changes a server's health, and
// the state changes themselves ("Server zones/x is DOWN, reason: …", "… is UP. 1 active").
const CHECK = /^Health check for server [^/\s]+\/(\S+) (?:failed|succeeded)\b.*\bstatus: (\d+)\/(\d+) (UP|DOWN)\b/;
const STATE = /^Server [^/\s]+\/(\S+) is (UP|DOWN)\b/;

/** One line of HAProxy's log as a state change, or null. The notation is `show stat`'s. Pure. */
export function parseHaproxyLogLine(line: string): LbStateChange | null {
  const stamped = ISO_LINE.exec(line);
  if (!stamped) return null;
  const [, seconds, fraction = '0', zone, message] = stamped;
  const at = Date.parse(`${seconds}${zone}`) + Number(`0.${fraction}`) * 1000;
  const check = CHECK.exec(message!);
  if (check) {
    const [, server, n, m, state] = check;
    // Full health (UP m/m) and none (DOWN 0/m) are the settled states.
    const settled = (state === 'UP' && n === m) || (state === 'DOWN' && n === '0');
    return { at, server: server!, status: settled ? state! : `${state} ${n}/${m}` };
  }
  const changed = STATE.exec(message!);
  return changed ? { at, server: changed[1]!, status: changed[2]! } : null;
}

function limitations(spec: LoadBalancerSpec): LbLimitation[] {
  // HAProxy expresses every field of the spec.
  void spec;
  return [];
}

/** A running (or found again) HAProxy: its runtime API for the view, its log for the changes. */
function openHaproxy(state: LbState): LoadBalancer {
  const config = state.files.config!;
  const socket = state.files.socket!;
  const log = state.files.log!;
  const process = state.processes[0]!;
  return {
    kind: 'haproxy',
    state,
    async view(): Promise<LbBackendView[]> {
      return (await showServers(socket)).map(({ backend: _backend, lastChangeSec: _since, ...view }) => view);
    },
    async changes(cursor) {
      const read = await readLinesFrom(log, cursor);
      return { changes: read.lines.map(parseHaproxyLogLine).filter((change): change is LbStateChange => change !== null), cursor: read.cursor };
    },
    running: () => isOurs(process.pid, config),
    async close() {
      await stopProcess(process.pid, config, 2000);
      await rm(socket, { force: true });
    },
  };
}

export const haproxyDriver: LbDriver = {
  kind: 'haproxy',
  summary: 'HAProxy, a proxy: it accepts each connection and opens its own to a backend; one check at a time per server',
  hasView: true,
  hasCounters: true,
  program: () => ({ name: 'HAProxy', version: haproxyVersion(), install: 'apt-get install -y haproxy' }),
  check() {
    if (haproxyVersion() === null) throw new ZonelabError('E_NO_HAPROXY', 'HAProxy is not installed: install it with "apt-get install -y haproxy" (or choose another --lb)');
  },
  limitations,
  async start(options) {
    haproxyDriver.check();
    await mkdir(options.dir, { recursive: true });
    const files = { config: join(options.dir, 'haproxy.cfg'), socket: join(options.dir, 'haproxy.sock'), log: join(options.dir, 'haproxy.log') };
    const config = renderHaproxyConfig(options.spec, options.backends, { listenHost: options.listenHost, listenPort: options.listenPort, statsSocket: files.socket });
    await writeFile(files.config, config);
    const rejected = checkHaproxyConfig(files.config);
    if (rejected) throw new ZonelabError('E_HAPROXY_CONFIG', `HAProxy rejects ${files.config}:\n${rejected}`);
    const state: LbState = {
      kind: 'haproxy',
      processes: [{ pid: null, marker: files.config, log: files.log }],
      listenHost: options.listenHost,
      listenPort: options.listenPort,
      backends: [...options.backends],
      files,
      settings: {},
    };
    state.processes[0]!.pid = spawnDetached('haproxy', ['-db', '-f', files.config], files.log);
    await options.onProcess?.(state);
    const balancer = openHaproxy(state);
    return untilStarted(balancer, {
      // The runtime API's socket appears a moment after HAProxy starts.
      ready: () => balancer.view().then(() => true, () => false),
      log: files.log,
      pollMs: 50,
      exited: (tail) => new ZonelabError('E_HAPROXY_START', `HAProxy exited at start-up:\n${tail}`),
      late: () => new ZonelabError('E_HAPROXY_API', `HAProxy's runtime API at ${files.socket} did not answer within 10 s`),
    });
  },
  open: openHaproxy,
};
