import type { LoadBalancerSpec } from './spec.js';

export interface Backend {
  /** Server name in HAProxy (the instance name). */
  name: string;
  host: string;
  port: number;
  /** The zone, written as a comment beside the server. */
  zone: string;
}

export interface HaproxyConfigOptions {
  /** Address clients connect to. */
  listenHost: string;
  listenPort: number;
  /** The runtime API's unix socket (admin level). */
  statsSocket: string;
  /** Most concurrent connections; default: what HAProxy derives from the file-descriptor limit. */
  maxConnections?: number;
}

/** Seconds as HAProxy writes durations. */
function seconds(value: number): string {
  return Number.isInteger(value) ? `${value}s` : `${Math.round(value * 1000)}ms`;
}

/**
 * The HAProxy configuration for a spec: a pure function. Health checks GET the request path
 * and expect 200 (HAProxy's own default would probe with OPTIONS, which the server answers
 * 501). Each profile's extras are marked with a comment saying why they are there.
 */
export function renderHaproxyConfig(spec: LoadBalancerSpec, backends: readonly Backend[], options: HaproxyConfigOptions): string {
  const checks = `inter ${seconds(spec.checkIntervalSec)} fall ${spec.unhealthyThreshold} rise ${spec.healthyThreshold}`;
  const observe = spec.observeErrors ? ` observe ${spec.mode === 'tcp' ? 'layer4' : 'layer7'} error-limit 1 on-error mark-down` : '';
  const lines = [
    `# zonelab load balancer, profile ${spec.profile}, mode ${spec.mode}`,
    `# health check: GET ${spec.requestPath} every ${spec.checkIntervalSec}s, timeout ${spec.timeoutSec}s, healthy after ${spec.healthyThreshold}, unhealthy after ${spec.unhealthyThreshold}`,
    'global',
    ...(options.maxConnections ? [`  maxconn ${options.maxConnections}`] : []),
    `  stats socket ${options.statsSocket} mode 600 level admin`,
    '  stats timeout 2m',
    '  # state changes and the checks that make them, with microsecond times, on standard output',
    '  log stdout format iso local0 info',
    '',
    'defaults',
    `  mode ${spec.mode}`,
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    `  timeout check ${seconds(spec.timeoutSec)}`,
  ];
  if (spec.retries > 0) lines.push(`  # retry failed connections (${spec.retries} times)`, `  retries ${spec.retries}`);
  else lines.push('  # no connection retries, like a cloud network load balancer', '  retries 0');
  if (spec.redispatch) lines.push('  # a retried connection goes to another backend', '  option redispatch 1');
  if (spec.retries > 0 && spec.mode === 'http') {
    // A proxy that parsed the request can send it again when the server died before
    // answering (our GETs are idempotent); a pass-through load balancer cannot.
    lines.push('  # also retry a request whose server closed or went silent before answering', '  retry-on conn-failure empty-response response-timeout');
  }
  lines.push(
    '',
    'frontend zonelab',
    `  bind ${options.listenHost}:${options.listenPort}`,
    '  # no line per connection: only the backends\' health is logged',
    '  no log',
    '  default_backend zones',
    '',
    'backend zones',
    '  log global',
    '  option log-health-checks',
    `  balance ${spec.balance}`,
    '  option httpchk',
    `  http-check send meth GET uri ${spec.requestPath} ver HTTP/1.1 hdr Host zonelab-health-check`,
    '  http-check expect status 200',
  );
  if (spec.observeErrors) {
    lines.push("  # real traffic is watched: a backend's first failed connection marks it down at once");
  }
  lines.push(`  default-server check ${checks}${observe}`);
  for (const backend of backends) {
    lines.push(`  server ${backend.name} ${backend.host}:${backend.port}  # zone ${backend.zone}`);
  }
  return `${lines.join('\n')}\n`;
}
