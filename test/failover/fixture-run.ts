import type { ExperimentSetup } from '../../src/failover/index.js';
import { PROFILES } from '../../src/lb/index.js';
import type { RequestResult, RunEvent } from '../../src/records/index.js';

/** A saved run, built by hand: the report tests' fixture. */
export const setup: ExperimentSetup = {
  where: 'lab',
  url: 'http://127.0.0.1:8080',
  zones: ['us-east1-b', 'us-east1-c'],
  instancesPerZone: 1,
  spec: PROFILES.fast,
  fault: 'kill',
  faultZone: 'us-east1-c',
  faultInstances: ['us-east1-c-vm1'],
  killCommand: null,
  restartCommand: null,
  rate: 100,
  keepalive: false,
  warmupMs: 2000,
  holdMs: 500,
  maxWaitMs: 60000,
  timeoutMs: 2000,
  startedAt: '2026-11-25T08:00:00.000Z',
  command: 'zonelab failover --warmup 2s --hold 2s',
  backends: [
    { name: 'us-east1-b-vm1', zone: 'us-east1-b', address: '127.0.1.1:8080' },
    { name: 'us-east1-c-vm1', zone: 'us-east1-c', address: '127.0.1.2:8080' },
  ],
  versions: { zonelab: '0.1.0', node: 'v24.21.0', haproxy: '2.6.12' },
};

// 100 req/s for 8 s: zone c is killed at 2 s, refuses until HAProxy notices at 3.5 s,
// is restarted at 5 s, ready at 5.4 s, and serves again from 6 s.
export const records: RequestResult[] = Array.from({ length: 800 }, (_, seq) => {
  const sentAt = seq * 10;
  const toC = seq % 2 === 1;
  const down = sentAt >= 2000 && sentAt < 6000;
  const refused = toC && sentAt >= 2000 && sentAt < 3500;
  const zone = refused ? null : toC && !down ? 'us-east1-c' : 'us-east1-b';
  return {
    seq,
    sentAt,
    latencyMs: 1.5,
    status: refused ? null : seq % 37 === 0 ? 400 : 200,
    zone,
    instance: zone ? `${zone}-vm1` : null,
    error: refused ? 'ECONNRESET' : null,
    connection: 'new',
    attempt: 1,
  };
});
export const events: RunEvent[] = [
  { at: 0, kind: 'phase', target: 'warm-up', detail: '' },
  { at: 20, kind: 'lb-state', target: 'us-east1-b-vm1', detail: 'UP' },
  { at: 20, kind: 'lb-state', target: 'us-east1-c-vm1', detail: 'UP' },
  { at: 2000, kind: 'fault', target: 'us-east1-c', detail: 'kill' },
  { at: 2900, kind: 'lb-state', target: 'us-east1-c-vm1', detail: 'UP 1/2' },
  { at: 3500, kind: 'lb-state', target: 'us-east1-c-vm1', detail: 'DOWN' },
  { at: 5000, kind: 'recover', target: 'us-east1-c', detail: 'start' },
  { at: 5400, kind: 'server-ready', target: 'us-east1-c', detail: 'answers its health check' },
  { at: 5900, kind: 'lb-state', target: 'us-east1-c-vm1', detail: 'UP' },
  { at: 8000, kind: 'phase', target: 'done', detail: '' },
];
