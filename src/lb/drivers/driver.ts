import type { LoadBalancerSpec } from '../spec.js';

/** The load balancers zonelab can put in front of a lab's servers, one driver each. */
export const LB_KINDS = ['passthrough', 'haproxy', 'caddy', 'nginx'] as const;
export type LbDriverKind = (typeof LB_KINDS)[number];

/** One server behind the balancer. */
export interface LbBackend {
  /** The instance name (`us-east1-b-vm1`): how the balancer and the reports name it. */
  name: string;
  zone: string;
  host: string;
  port: number;
}

/**
 * One backend as the balancer sees it, in one notation whatever the balancer (HAProxy's,
 * which zonelab already spoke): `UP` in service, `DOWN` out of it, `UP n/m` still in
 * service with n of the m failures it takes to go, `DOWN n/m` out with n of the m passes it
 * takes to return. Counters are since the balancer started, null where it keeps none.
 */
export interface LbBackendView {
  server: string;
  status: string;
  /** True while the balancer sends the backend new connections. */
  up: boolean;
  /** What the last check said (`L7OK`, `L4CON`, `200`, `timeout` …); '' when unknown. */
  checkStatus: string;
  /** Connections handed to this backend. */
  sessionsTotal: number | null;
  /** Of those, how many failed here. */
  failedTotal: number | null;
  /** Of those, how many were moved to another backend after failing. */
  redispatchedTotal: number | null;
}

/** A change of a backend's status, with the balancer's own time for it. */
export interface LbStateChange {
  /** Wall-clock time of the change, ms since the epoch (`Date.now()`'s clock). */
  at: number;
  server: string;
  status: string;
}

/** What a driver's process-level state is: written into the lab's state file, read back by any later command. */
export interface LbState {
  kind: LbDriverKind;
  /** Processes the driver started (the balancer, a prober), with what marks them as ours. */
  processes: { pid: number | null; marker: string; log: string }[];
  /** Where clients connect. */
  listenHost: string;
  listenPort: number;
  /** The backends it balances. */
  backends: LbBackend[];
  /** The driver's own files and settings (config path, sockets, nft table …). */
  files: Record<string, string>;
  settings: Record<string, string | number | boolean>;
}

/** What a spec asks that this balancer cannot do, with what it does instead (for the report). */
export interface LbLimitation {
  field: keyof LoadBalancerSpec | 'lb';
  says: string;
}

export interface LbStartOptions {
  spec: LoadBalancerSpec;
  backends: readonly LbBackend[];
  listenHost: string;
  listenPort: number;
  /** A folder of the driver's own inside the lab's folder. */
  dir: string;
  /** The lab's nftables table (the passthrough balancer's data plane lives in it). */
  nftTable: string;
  /** Driver settings from the command line (`--probers`, `--prober-rule`, `--connection-persistence`). */
  settings?: Record<string, string | number | boolean>;
  /** Told when a process starts, so the lab's state file names it before anything can fail. */
  onProcess?: (state: LbState) => Promise<void>;
}

/**
 * One load balancer in front of a lab, started from a spec, or opened again from the state
 * a start wrote (by `lab status` in another shell, say).
 */
export interface LoadBalancer {
  readonly kind: LbDriverKind;
  readonly state: LbState;
  /** Each backend as the balancer sees it now, or null when this balancer has no view. */
  view(): Promise<LbBackendView[] | null>;
  /**
   * The status changes the balancer reported after `cursor` (0: from its start), with its
   * own times, and the cursor to ask from next time; empty where it reports none.
   */
  changes(cursor: number): Promise<{ changes: LbStateChange[]; cursor: number }>;
  /** Whether its processes still run. */
  running(): boolean;
  /** Stops its processes and removes what it added (rules, sockets); idempotent. */
  close(): Promise<void>;
}

/** A driver: how one kind of balancer is described, started and found again. */
export interface LbDriver {
  readonly kind: LbDriverKind;
  /** What it is, for `--help` and the report: one line. */
  readonly summary: string;
  /** Whether it tells its backends' state (`view()` and `changes()`); nginx keeps it to itself. */
  readonly hasView: boolean;
  /** Whether it counts the connections it hands each backend (the lab's live page draws them). */
  readonly hasCounters: boolean;
  /** The program it needs, or null (`doctor` checks it); its version when installed. */
  program(): { name: string; version: string | null; install: string } | null;
  /** Throws one clear line when this machine cannot run it (its program missing, no root). */
  check(): void;
  /** What of the spec it cannot express. Pure. */
  limitations(spec: LoadBalancerSpec, settings?: Record<string, string | number | boolean>): LbLimitation[];
  start(options: LbStartOptions): Promise<LoadBalancer>;
  open(state: LbState): LoadBalancer;
}

/** Waits `ms`; for drivers' polls. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
