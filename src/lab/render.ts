import type { BackendStatus } from './lab.js';

/** The backends as a text table: zone, instance, address, pid, process state, injected fault, HAProxy state. */
export function renderBackends(rows: readonly BackendStatus[]): string {
  const header = ['zone', 'instance', 'address', 'pid', 'process', 'fault', 'haproxy'];
  const cells = rows.map(({ server, process, lb }) => [
    server.zone,
    server.name,
    `${server.host}:${server.port}`,
    process === 'stopped' ? '-' : String(server.pid),
    process,
    server.fault ?? '-',
    lb ? `${lb.status}${lb.checkStatus ? ` (${lb.checkStatus})` : ''}` : 'unknown',
  ]);
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...cells.map((row) => row[i]!.length)));
  return [header, ...cells].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
