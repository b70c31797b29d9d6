import { lbName } from '../lb/index.js';
import { verboseLine } from '../client/index.js';
import { failed, finalAttempts, type RequestResult, type RunSetup } from '../records/index.js';

/** The setup as a picture: client → load balancer with its check → the VMs in their zones. Pure. */
export function renderSetupPicture(setup: RunSetup): string[] {
  const spec = setup.spec;
  const check = spec
    ? `profile ${spec.profile}: GET ${spec.requestPath} every ${spec.checkIntervalSec} s, timeout ${spec.timeoutSec} s, up after ${spec.healthyThreshold}, down after ${spec.unhealthyThreshold}`
    : 'health check not stated';
  const lines = [
    '```',
    `client: ${setup.rate} requests/s, ${setup.keepalive ? 'keep-alive connections' : 'a new connection per request'}`,
    '  │',
    '  ▼',
    `${setup.where === 'lab' ? lbName(setup.lb?.kind) : 'load balancer'} at ${setup.url}   (${check})`,
  ];
  const backends = setup.backends ?? [];
  if (backends.length === 0) {
    lines.push(`  └──▶ … zone ${setup.faultZone}   ← fault: ${setup.fault === 'command' ? setup.killCommand : setup.fault}`);
  } else {
    const width = Math.max(...backends.map((b) => b.name.length));
    const addressWidth = Math.max(...backends.map((b) => b.address.length));
    backends.forEach((backend, i) => {
      const branch = i === backends.length - 1 ? '└──▶' : '├──▶';
      const fault = backend.zone === setup.faultZone ? `   ← ${setup.fault}` : '';
      lines.push(`  ${branch} ${backend.name.padEnd(width)}  ${backend.address.padEnd(addressWidth)}  zone ${backend.zone}${fault}`);
    });
  }
  lines.push('```');
  return lines;
}

/**
 * A few lines as the client prints them (`zonelab client -v`, the zone and instance each
 * answer came from): the last before the fault, the first after it, the last failures and
 * the first answers of the returned zone. Wall-clock times are the run's start plus the
 * request's own time. Pure.
 */
export function renderClientLines(setup: RunSetup, records: readonly RequestResult[], faultAt: number | null, returnedAt: number | null): string[] {
  const requests = finalAttempts(records).sort((a, b) => a.sentAt - b.sentAt);
  if (requests.length === 0) return [];
  const start = Date.parse(setup.startedAt);
  const picked = new Set<RequestResult>();
  const add = (items: RequestResult[]) => {
    for (const item of items) picked.add(item);
  };
  if (faultAt === null) add(requests.slice(0, 6));
  else {
    const before = requests.filter((r) => r.sentAt < faultAt);
    const after = requests.filter((r) => r.sentAt >= faultAt);
    add(before.slice(-3));
    add(after.slice(0, 3));
    const failures = after.filter(failed);
    add(failures.slice(-2));
    if (returnedAt !== null) add(requests.filter((r) => r.sentAt >= returnedAt).slice(0, 3));
  }
  const sorted = [...picked].sort((a, b) => a.sentAt - b.sentAt);
  const lines: string[] = ['```'];
  let previous: RequestResult | null = null;
  for (const record of sorted) {
    if (previous && record.seq - previous.seq > 1) lines.push('…');
    lines.push(verboseLine(record, new Date(start + record.sentAt + record.latencyMs)));
    previous = record;
  }
  lines.push('```');
  return lines;
}
