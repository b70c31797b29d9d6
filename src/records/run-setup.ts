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
  /** What ran: zonelab, Node.js, and in a lab the load balancer's program. Absent in runs saved by older versions. */
  versions?: { zonelab: string; node: string; haproxy?: string | null; lb?: { program: string; version: string | null } };
  /**
   * The lab's load balancer: its driver, settings (probers …), and what of the spec it could
   * not express. Absent with a target, and in runs saved before there were drivers (HAProxy).
   */
  lb?: { kind: string; summary: string; hasView?: boolean; settings: Record<string, string | number | boolean>; limitations: { field: string; says: string }[] };
  /**
   * With a target: what its health check sees of the fault command (`--check-sees`), as the
   * user states it; absent when not stated (then taken to time out, the wider window).
   */
  checkSees?: 'fails-fast' | 'times-out' | 'passes';
  /** With a target: seconds allowed for the load balancer to apply a health verdict (`--apply-delay`). Absent in older runs: 0. */
  applyDelaySec?: number;
}
