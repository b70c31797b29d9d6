import { join, resolve } from 'node:path';
import { nftTableOf } from './network-faults.js';
import { type Backend, drainSecondsFor, type LbDriverKind, type LoadBalancerSpec, passthroughSettings } from '../lb/index.js';

export interface LabOptions {
  zones: string[];
  instancesPerZone: number;
  spec: LoadBalancerSpec;
  /** Where clients reach the load balancer. */
  listenHost: string;
  listenPort: number;
  /** Bucket folder (generated when missing) or gs:// bucket. */
  bucket: string;
  /** Event bus for servers and audit; default `sqlite:<dir>/events` (a file per server). */
  bus?: string | undefined;
  /** The lab's folder: state file, the load balancer's files, logs. */
  dir: string;
  /** Which load balancer: passthrough, haproxy, caddy, nginx; default haproxy. */
  lb?: LbDriverKind | undefined;
  /** The balancer's own settings (`--probers`, `--prober-rule`, `--connection-persistence`). */
  lbSettings?: Record<string, string | number | boolean> | undefined;
}

export interface PlannedServer extends Backend {
  /** Arguments after `zonelab serve`. */
  args: string[];
  log: string;
  /** The server's owner-only control socket (gray faults). */
  control: string;
}

export interface LabPlan {
  dir: string;
  lbUrl: string;
  bus: string;
  /** Folder of the control sockets (mode 0700). */
  controlDir: string;
  /** The nftables table of the lab's network faults. */
  nftTable: string;
  servers: PlannedServer[];
  lb: { kind: LbDriverKind; dir: string; listenHost: string; listenPort: number };
  audit: { args: string[]; log: string };
}

/**
 * Where everything of a lab goes: server k (from 1) listens on 127.0.1.k and the spec's
 * port, like VMs with their own addresses on the same port; names are `<zone>-vm<i>`.
 * Pure, so the layout is tested without starting anything.
 */
export function planLab(options: LabOptions): LabPlan {
  const dir = resolve(options.dir);
  const bus = options.bus ?? `sqlite:${join(dir, 'events')}`;
  const controlDir = join(dir, 'control');
  const servers: PlannedServer[] = [];
  for (const zone of options.zones) {
    for (let i = 1; i <= options.instancesPerZone; i++) {
      const name = `${zone}-vm${i}`;
      const host = `127.0.1.${servers.length + 1}`;
      const control = join(controlDir, `${name}.sock`);
      servers.push({
        name,
        zone,
        host,
        port: options.spec.port,
        log: join(dir, 'logs', `${name}.log`),
        control,
        args: ['--control', control, '--bucket', options.bucket, '--host', host, '--port', String(options.spec.port), '--zone', zone, '--instance', name, '--bus', bus, '--drain-seconds', String(drainSecondsFor(options.spec, passthroughSettings(options.lbSettings).applyDelay))],
      });
    }
  }
  return {
    dir,
    lbUrl: `http://${options.listenHost}:${options.listenPort}`,
    bus,
    controlDir,
    nftTable: nftTableOf(dir),
    servers,
    lb: { kind: options.lb ?? 'haproxy', dir: join(dir, 'lb'), listenHost: options.listenHost, listenPort: options.listenPort },
    audit: { args: ['--bus', bus, '--consumer', 'lab-audit'], log: join(dir, 'logs', 'audit.log') },
  };
}
