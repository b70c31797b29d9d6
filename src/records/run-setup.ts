import type { LoadBalancerSpec } from '../lb/index.js';

/**
 * How a run was set up: everything the report states and `zonelab report` needs again.
 * Written as setup.json when the run starts, so even a run that is killed leaves it.
 */
export interface RunSetup {
  where: 'lab' | 'target';
  url: string;
  zones: string[];
  instancesPerZone: number | null;
  spec: LoadBalancerSpec | null;
  /** The fault as `parseFault` reads it (`kill`, `latency:500`, …), or `command` with --target. */
  fault: string;
  faultZone: string;
  faultInstances: string[];
  killCommand: string | null;
  restartCommand: string | null;
  rate: number;
  keepalive: boolean;
  warmupMs: number;
  holdMs: number;
  maxWaitMs: number;
  timeoutMs: number;
  startedAt: string;
  /** The command line that reproduces the run. */
  command: string;
  /** The lab's backends (none with a target). Absent in runs saved by older versions. */
  backends?: { name: string; zone: string; address: string }[];
  /** What ran: zonelab, Node.js, and HAProxy in a lab. Absent in runs saved by older versions. */
  versions?: { zonelab: string; node: string; haproxy: string | null };
}
