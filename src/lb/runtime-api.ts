import { connect } from 'node:net';
import { ZonelabError } from '../errors.js';

/** One server as HAProxy's `show stat` reports it. */
export interface ServerStat {
  backend: string;
  server: string;
  /** `UP`, `DOWN`, `MAINT`, `NOLB`, or a transition such as `UP 1/2` (going down) / `DOWN 1/2`. */
  status: string;
  /** True for UP and for UP-going-down: HAProxy still sends it traffic. */
  up: boolean;
  /** Seconds since the last UP/DOWN change. */
  lastChangeSec: number;
  /** The last health check's result, e.g. `L7OK`, `L4CON`, `L7STS`. */
  checkStatus: string;
  /** Connections the server has been handed in all (failed and redispatched ones included). */
  sessionsTotal: number;
  /** Of those, how many failed here: connection errors, response errors and 5xx answers (http mode). */
  failedTotal: number;
  /** Of those, how many HAProxy moved to another server after a failed connection (`redispatch`): they count there. */
  redispatchedTotal: number;
}

/** Sends one command to HAProxy's runtime API (unix socket) and returns the whole answer. */
export function runtimeCommand(socketPath: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ZonelabError('E_HAPROXY_API', `HAProxy's runtime API at ${socketPath} did not answer "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.end(`${command}\n`));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(new ZonelabError('E_HAPROXY_API', `cannot reach HAProxy's runtime API at ${socketPath}: ${error.message}`, { cause: error }));
    });
  });
}

/** Parses `show stat` CSV into the servers' states (frontends and backend totals left out). */
export function parseShowStat(csv: string): ServerStat[] {
  const lines = csv.split('\n').filter((line) => line.trim() !== '');
  const header = lines.shift();
  if (!header?.startsWith('# ')) throw new ZonelabError('E_HAPROXY_API', `unexpected answer to "show stat": ${csv.slice(0, 200)}`);
  const names = header.slice(2).split(',');
  const column = (name: string) => names.indexOf(name);
  const [px, sv, status, lastchg, check, stot, econ, eresp, http5xx, wredis] = ['pxname', 'svname', 'status', 'lastchg', 'check_status', 'stot', 'econ', 'eresp', 'hrsp_5xx', 'wredis'].map(column);
  // Columns HAProxy leaves empty (hrsp_5xx in tcp mode) or lacks count as 0.
  const count = (cells: string[], index: number | undefined) => (index === undefined || index < 0 ? 0 : Number(cells[index] || 0));
  return lines
    .map((line) => line.split(','))
    .filter((cells) => cells[sv!] !== 'FRONTEND' && cells[sv!] !== 'BACKEND')
    .map((cells) => {
      const state = cells[status!] ?? '';
      return {
        backend: cells[px!] ?? '',
        server: cells[sv!] ?? '',
        status: state,
        up: state.startsWith('UP'),
        lastChangeSec: Number(cells[lastchg!] ?? 0),
        checkStatus: cells[check!] ?? '',
        sessionsTotal: count(cells, stot),
        failedTotal: count(cells, econ) + count(cells, eresp) + count(cells, http5xx),
        redispatchedTotal: count(cells, wredis),
      };
    });
}

/** The servers' states right now. */
export async function showServers(socketPath: string): Promise<ServerStat[]> {
  return parseShowStat(await runtimeCommand(socketPath, 'show stat'));
}
