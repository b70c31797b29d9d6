import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZonelabError } from '../../errors.js';
import { isOurs, spawnDetached, stopProcess } from '../../processes.js';
import type { LoadBalancerSpec } from '../spec.js';
import type { LbBackend, LbDriver, LbLimitation, LbState, LoadBalancer } from './driver.js';
import { untilStarted } from './start-helpers.js';

/** Where Debian's libnginx-mod-stream puts the TCP proxy module. */
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

export function nginxVersion(): string | null {
  const result = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return null;
  return /nginx\/(\S+)/.exec(`${result.stdout}${result.stderr}`)?.[1] ?? 'unknown';
}

/**
 * How long a backend stays out after its failures, in nginx's terms (`fail_timeout`, which
 * is also the window the failures are counted in): the time the spec's checks take to bring
 * a backend back, so a returned server is tried again about as soon as a checking balancer
 * would let it in.
 */
export function failTimeoutSec(spec: LoadBalancerSpec): number {
  return spec.checkIntervalSec * spec.healthyThreshold;
}

/**
 * nginx's configuration for a spec: a pure function. Open-source nginx has no active health
 * check; it takes a backend out after `max_fails` failed attempts within `fail_timeout` and
 * tries it again after that (https://nginx.org/en/docs/http/ngx_http_upstream_module.html#server).
 * `proxy_next_upstream` (zero-error's retries) tries another backend when one fails. The
 * stream module proxies TCP (mode tcp), the http module HTTP.
 */
export function renderNginxConfig(spec: LoadBalancerSpec, backends: readonly LbBackend[], options: { listenHost: string; listenPort: number; dir: string }): string {
  const retry = spec.retries > 0 || spec.redispatch;
  const balance = spec.balance === 'leastconn' ? ['    least_conn;'] : spec.balance === 'source' ? [spec.mode === 'tcp' ? '    hash $remote_addr consistent;' : '    ip_hash;'] : [];
  const servers = backends.map((backend) => `    server ${backend.host}:${backend.port} max_fails=${spec.unhealthyThreshold} fail_timeout=${failTimeoutSec(spec)}s;  # ${backend.name}, zone ${backend.zone}`);
  const upstream = ['  upstream zones {', ...balance, ...servers, '  }'];
  const lines = [
    `# zonelab load balancer (nginx), profile ${spec.profile}, mode ${spec.mode}`,
    ...(spec.mode === 'tcp' ? [`load_module ${STREAM_MODULE};`] : []),
    'daemon off;',
    'worker_processes 1;',
    `pid ${join(options.dir, 'nginx.pid')};`,
    `error_log ${join(options.dir, 'error.log')} warn;`,
    'events { worker_connections 4096; }',
  ];
  if (spec.mode === 'tcp') {
    lines.push(
      'stream {',
      ...upstream,
      '  server {',
      `    listen ${options.listenHost}:${options.listenPort};`,
      '    proxy_pass zones;',
      '    proxy_connect_timeout 2s;',
      `    proxy_next_upstream ${retry ? 'on' : 'off'};`,
      ...(retry ? [`    proxy_next_upstream_tries ${spec.retries + 1};`] : []),
      '  }',
      '}',
    );
  } else {
    lines.push(
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${join(options.dir, 'tmp')};`,
      `  proxy_temp_path ${join(options.dir, 'tmp')};`,
      ...upstream,
      '  server {',
      `    listen ${options.listenHost}:${options.listenPort};`,
      '    location / {',
      '      proxy_pass http://zones;',
      '      proxy_connect_timeout 2s;',
      `      proxy_next_upstream ${retry ? 'error timeout http_500 http_502 http_503 http_504' : 'off'};`,
      ...(retry ? [`      proxy_next_upstream_tries ${spec.retries + 1};`] : []),
      '    }',
      '  }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

function limitations(spec: LoadBalancerSpec): LbLimitation[] {
  return [
    {
      field: 'checkIntervalSec',
      says: `open-source nginx has no active health check: a backend goes out after ${spec.unhealthyThreshold} failed attempts of real traffic (max_fails) and is tried again ${failTimeoutSec(spec)} s later (fail_timeout); a zone that fails only its health check (health-fail) is never drained, and nginx keeps no view of its own to report`,
    },
    ...(spec.observeErrors ? [{ field: 'observeErrors' as const, says: 'only connection failures (and, in http mode with retries, 5xx answers) count as failures' }] : []),
  ];
}

function openNginx(state: LbState): LoadBalancer {
  const process = state.processes[0]!;
  const config = state.files.config!;
  return {
    kind: 'nginx',
    state,
    // No view of its own: nginx keeps its backends' state to itself.
    view: async () => null,
    changes: async (cursor) => ({ changes: [], cursor }),
    running: () => isOurs(process.pid, config),
    async close() {
      // TERM is nginx's fast shutdown: the master stops its workers, then exits.
      await stopProcess(process.pid, config, 3000);
    },
  };
}

export const nginxDriver: LbDriver = {
  kind: 'nginx',
  summary: 'nginx 1.22 (open source), a proxy with passive checks only: real traffic that fails takes a backend out',
  hasView: false,
  hasCounters: false,
  program: () => ({ name: 'nginx', version: nginxVersion(), install: 'apt-get install -y nginx libnginx-mod-stream' }),
  check() {
    if (nginxVersion() === null) throw new ZonelabError('E_NO_PROGRAM', 'nginx is not installed: install it with "apt-get install -y nginx libnginx-mod-stream" (or choose another --lb)');
    if (!existsSync(STREAM_MODULE)) throw new ZonelabError('E_NO_PROGRAM', `nginx's TCP proxy module is missing (${STREAM_MODULE}): install it with "apt-get install -y libnginx-mod-stream"`);
  },
  limitations,
  async start(options) {
    nginxDriver.check();
    await mkdir(join(options.dir, 'tmp'), { recursive: true });
    const files = { config: join(options.dir, 'nginx.conf'), out: join(options.dir, 'nginx.out'), errors: join(options.dir, 'error.log') };
    await writeFile(files.config, renderNginxConfig(options.spec, options.backends, { listenHost: options.listenHost, listenPort: options.listenPort, dir: options.dir }));
    const tested = spawnSync('nginx', ['-t', '-q', '-p', options.dir, '-c', files.config], { encoding: 'utf8' });
    if (tested.status !== 0) throw new ZonelabError('E_BAD_SPEC', `nginx rejects ${files.config}: ${(tested.stderr || tested.stdout).trim().split('\n')[0]}`);
    // The test leaves a pid file of its own behind: only the master's says it listens.
    const pidFile = join(options.dir, 'nginx.pid');
    await rm(pidFile, { force: true });
    const state: LbState = {
      kind: 'nginx',
      processes: [{ pid: null, marker: files.config, log: files.out }],
      listenHost: options.listenHost,
      listenPort: options.listenPort,
      backends: [...options.backends],
      files,
      settings: {},
    };
    state.processes[0]!.pid = spawnDetached('nginx', ['-p', options.dir, '-c', files.config], files.out);
    await options.onProcess?.(state);
    return untilStarted(openNginx(state), {
      // Listening once its master wrote its pid (nginx binds its sockets first).
      ready: async () => (await readFile(pidFile, 'utf8').catch(() => '')).trim() === String(state.processes[0]!.pid),
      log: files.errors,
      pollMs: 20,
      exited: (tail) => new ZonelabError('E_LAB_START', `nginx exited at start-up:\n${tail}`),
      late: () => new ZonelabError('E_LAB_START', `nginx did not start within 10 s (see ${files.errors})`),
    });
  },
  open: openNginx,
};
