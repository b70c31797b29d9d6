import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { ZonelabError } from '../errors.js';
import { shellQuote } from '../shell-quote.js';
import { labOfProcess, processName } from './find-labs.js';
import { type LabOptions, planLab } from './plan.js';

/** Whether `host:port` can be listened on right now (tried for real, then released). */
export function addressFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** `127.0.0.1` → `0100007F`, as /proc/net/tcp spells an IPv4 address. */
function procAddress(host: string): string {
  return host
    .split('.')
    .map((part) => Number(part).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
}

/** The inodes of the sockets listening on `port` at `host`, or on every address (IPv4 or IPv6). */
function listeningInodes(host: string, port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const wanted = new Set([`${procAddress(host)}:${hexPort}`, `00000000:${hexPort}`, `${'0'.repeat(32)}:${hexPort}`]);
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let table = '';
    try {
      table = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const cells = line.trim().split(/\s+/);
      // cells: sl, local_address, rem_address, st (0A = LISTEN), …, inode at 9.
      if (cells[3] === '0A' && wanted.has(cells[1] ?? '')) inodes.add(cells[9] ?? '');
    }
  }
  return inodes;
}

/** The pid of a process listening on `host:port` (this machine, IPv4, from /proc), or null when it cannot be told. */
function holderPid(host: string, port: number): number | null {
  const inodes = listeningInodes(host, port);
  if (inodes.size === 0) return null;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode && inodes.has(inode)) return Number(pid);
    }
  }
  return null;
}

/** Who listens on `host:port`, and the lab it belongs to when it is one of ours left running. */
export function addressHolder(host: string, port: number): { text: string; labDir: string | null } | null {
  const pid = holderPid(host, port);
  if (pid === null) return null;
  const name = processName(pid);
  const labDir = labOfProcess(pid);
  return labDir ? { text: `the lab in ${labDir} (${name}, pid ${pid})`, labDir } : { text: `${name} (pid ${pid})`, labDir: null };
}

/** The command that stops the lab in `dir`, ready to paste. */
export function labDownCommand(dir: string): string {
  return `zonelab lab down --dir ${shellQuote(dir)}`;
}

/**
 * The one line for a busy address: what holds it, and what to do. A lab of ours is named
 * with the command that stops it (a lab left by a killed run is found by its processes);
 * anything else with the flag that moves away from it.
 */
export function busyMessage(host: string, port: number, flag: string): string {
  const holder = addressHolder(host, port);
  if (holder?.labDir) {
    return `${host}:${port} is in use by ${holder.text}, still running: stop it with "${labDownCommand(holder.labDir)}" ("zonelab lab down --all" stops every lab left running), or choose another address with ${flag}`;
  }
  return `${host}:${port} is in use${holder ? ` by ${holder.text}` : ''}: stop it, or choose another with ${flag}`;
}

/**
 * Checks, before anything starts, that every address a lab needs is free: the load
 * balancer's and each server's. A busy one is one line that names it, who holds it and the
 * flag to change (E_PORT_BUSY); nothing is started or written.
 */
export async function checkLabAddresses(options: Pick<LabOptions, 'zones' | 'instancesPerZone' | 'spec' | 'listenHost' | 'listenPort' | 'bucket' | 'dir'>): Promise<void> {
  const plan = planLab({ ...options });
  const wanted = [
    { host: options.listenHost, port: options.listenPort, flag: `--listen ${options.listenHost}:<port>` },
    ...plan.servers.map((server) => ({ host: server.host, port: server.port, flag: '--port <n> (the servers\' port)' })),
  ];
  for (const { host, port, flag } of wanted) {
    if (!(await addressFree(host, port))) throw new ZonelabError('E_PORT_BUSY', busyMessage(host, port, flag));
  }
}
