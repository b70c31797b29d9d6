import type { LoadBalancerSpec } from '../lb/index.js';
import type { BackendStatus } from './lab.js';
import { checkInWords, stateInWords } from './watch.js';

/** The backends as a text table: zone, instance, address, pid, process state, injected fault, the load balancer's state in words. */
export function renderBackends(rows: readonly BackendStatus[], spec: LoadBalancerSpec, noView = false): string {
  const header = ['zone', 'instance', 'address', 'pid', 'process', 'fault', 'load balancer'];
  const cells = rows.map(({ server, process, lb }) => [
    server.zone,
    server.name,
    `${server.host}:${server.port}`,
    process === 'stopped' ? '-' : String(server.pid),
    process,
    server.fault ?? '-',
    noView ? 'keeps no view' : `${stateInWords(lb?.status ?? null, spec)}${lb?.checkStatus ? `; ${checkInWords(lb.checkStatus)}` : ''}`,
  ]);
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...cells.map((row) => row[i]!.length)));
  return [header, ...cells].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
