import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZonelabError } from '../errors.js';
import type { LbState, LoadBalancerSpec } from '../lb/index.js';
import type { LabPlan } from './plan.js';

export type ProcessState = 'running' | 'paused' | 'stopped';

export interface ServerRecord {
  name: string;
  zone: string;
  host: string;
  port: number;
  args: string[];
  log: string;
  /** The server's control socket (gray faults). */
  control: string;
  pid: number | null;
  state: ProcessState;
  /** The fault injected by `lab fault` and not healed yet (`partition`, `latency:500`, …), or null. */
  fault: string | null;
}

/** What a lab needs to be found again by a later command: written after every change. */
export interface LabState {
  version: 2;
  dir: string;
  lbUrl: string;
  bus: string;
  /** The nftables table of the lab's network faults (removed by `lab down`). */
  nftTable: string;
  spec: LoadBalancerSpec;
  /** The process that started the lab (the foreground supervisor), if any. */
  supervisorPid: number | null;
  /** Set by `lab down` before it stops anything, so a foreground supervisor ends quietly. */
  stopping?: boolean;
  /** The load balancer, as its driver wrote it (null until it starts). */
  lb: LbState | null;
  audit: { pid: number | null; args: string[]; log: string };
  servers: ServerRecord[];
}

export function stateFile(dir: string): string {
  return join(dir, 'state.json');
}

export function initialState(plan: LabPlan, spec: LoadBalancerSpec): LabState {
  return {
    version: 2,
    dir: plan.dir,
    lbUrl: plan.lbUrl,
    bus: plan.bus,
    nftTable: plan.nftTable,
    spec,
    supervisorPid: process.pid,
    lb: null,
    audit: { pid: null, ...plan.audit },
    servers: plan.servers.map(({ name, zone, host, port, args, log, control }) => ({ name, zone, host, port, args, log, control, pid: null, state: 'stopped', fault: null })),
  };
}

const pendingSaves = new Map<string, Promise<void>>();

/**
 * Written to a temporary file and renamed, so a reader never sees half a state; saves of
 * one lab run one after the other (servers start in parallel and each saves).
 */
export function saveState(state: LabState): Promise<void> {
  const file = stateFile(state.dir);
  const write = async () => {
    await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  };
  const next = (pendingSaves.get(file) ?? Promise.resolve()).then(write, write);
  pendingSaves.set(file, next);
  return next;
}

export async function loadState(dir: string): Promise<LabState> {
  let text: string;
  try {
    text = await readFile(stateFile(dir), 'utf8');
  } catch {
    throw new ZonelabError('E_NO_LAB', `no lab in ${dir} (start one with "zonelab lab up --detach")`);
  }
  try {
    const state = JSON.parse(text) as LabState;
    if (state.version !== 2 || !Array.isArray(state.servers)) throw new Error(`unknown layout (version ${String(state.version)}: a lab of another zonelab release)`);
    return state;
  } catch (error) {
    throw new ZonelabError('E_BAD_LAB_STATE', `${stateFile(dir)} is not a lab state file: ${(error as Error).message}`);
  }
}

export async function removeState(dir: string): Promise<void> {
  await rm(stateFile(dir), { force: true });
}
