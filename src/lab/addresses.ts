import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { ZonelabError } from '../errors.js';
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

/**
 * Who listens on `host:port`, as `haproxy (pid 1234)`, from /proc (this machine, IPv4):
 * null when it cannot be told (another user's process, or a socket that just closed).
 */
export function holderOf(host: string, port: number): string | null {
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
      if (inode && inodes.has(inode)) {
        const name = (() => {
          try {
            const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
            return cmdline.startsWith('zonelab ') ? cmdline : readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          } catch {
            return 'a process';
          }
        })();
        return `${name} (pid ${pid})`;
      }
    }
  }
  return null;
}

/** The one line for a busy address: what holds it, and the flag that moves away from it. */
export function busyMessage(host: string, port: number, flag: string): string {
  const holder = holderOf(host, port);
  return `${host}:${port} is in use${holder ? ` by ${holder}` : ''}: stop it, or choose another with ${flag}`;
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
