import type { LbBackend } from '../driver.js';

/**
 * The passthrough balancer's data plane, in the lab's own nftables table: a DNAT on the
 * output hook (loopback traffic is locally generated) from the listening address to one of
 * the backends in service, through a map of SLOTS slots, so that changing who is in
 * service is one atomic rewrite of the map and the rule never changes. The kernel's
 * connection tracking pins each established flow to the backend it was sent to, and the
 * server sees the client's own address: packets are forwarded, never proxied.
 */

// Divisible by every count of backends from 1 to 6 (and close for more): a hash spread
// evenly over the slots is spread evenly over the backends.
export const SLOTS = 60;

const MAP = 'lb_backends';
const NAT_CHAIN = 'lb_nat';
const COUNT_CHAIN = 'lb_count';
const PERSIST_CHAIN = 'lb_persist';

export interface DataPlaneOptions {
  table: string;
  listenHost: string;
  listenPort: number;
  /**
   * How a new connection picks its backend, as Google's session affinity does with a hash
   * ("Backend selection and connection tracking",
   * https://cloud.google.com/load-balancing/docs/network/ext-netlb-traffic-distribution):
   * `five-tuple` (affinity NONE: addresses, ports and protocol, so a retransmitted SYN goes
   * where the first one went), `client-ip` (CLIENT_IP: the client's address).
   */
  balance: 'five-tuple' | 'client-ip';
}

/** The script that creates the map, the DNAT rule and a counter per backend. Pure. */
export function setupScript(options: DataPlaneOptions, backends: readonly LbBackend[]): string {
  const { table } = options;
  const pick = options.balance === 'client-ip' ? `jhash ip saddr mod ${SLOTS}` : `jhash ip saddr . tcp sport . ip daddr . tcp dport mod ${SLOTS}`;
  return [
    `add table inet ${table}`,
    `add map inet ${table} ${MAP} { typeof numgen inc mod ${SLOTS} : ip daddr . tcp dport ; }`,
    `add chain inet ${table} ${NAT_CHAIN} { type nat hook output priority -100 ; policy accept ; }`,
    `add rule inet ${table} ${NAT_CHAIN} ip daddr ${options.listenHost} tcp dport ${options.listenPort} dnat ip to ${pick} map @${MAP}`,
    // New connections the balancer sent to each backend (after the DNAT, on the output hook).
    `add chain inet ${table} ${COUNT_CHAIN} { type filter hook output priority 10 ; policy accept ; }`,
    ...backends.map((backend) => `add rule inet ${table} ${COUNT_CHAIN} ct state new ct status dnat ip daddr ${backend.host} tcp dport ${backend.port} counter comment "lb:${backend.name}"`),
    // Established flows to a backend out of service, when they must not persist: Google keeps
    // them by default and drops them with NEVER_PERSIST ("Connection persistence on unhealthy
    // backends", https://cloud.google.com/load-balancing/docs/network/ext-netlb-traffic-distribution).
    `add chain inet ${table} ${PERSIST_CHAIN} { type filter hook output priority -10 ; policy accept ; }`,
  ].join('\n');
}

/**
 * The one transaction that puts `inService` behind the listening address (slot k to the
 * k-th modulo their number) and, with `dropEstablished`, resets every established flow of
 * the others. Pure.
 */
export function serviceScript(table: string, inService: readonly LbBackend[], outOfService: readonly LbBackend[], dropEstablished: boolean): string {
  const elements = inService.length === 0 ? [] : Array.from({ length: SLOTS }, (_, slot) => {
    const backend = inService[slot % inService.length]!;
    return `${slot} : ${backend.host} . ${backend.port}`;
  });
  return [
    `flush map inet ${table} ${MAP}`,
    ...(elements.length > 0 ? [`add element inet ${table} ${MAP} { ${elements.join(', ')} }`] : []),
    `flush chain inet ${table} ${PERSIST_CHAIN}`,
    ...(dropEstablished
      ? outOfService.map((backend) => `add rule inet ${table} ${PERSIST_CHAIN} ct status dnat ip daddr ${backend.host} tcp dport ${backend.port} reject with tcp reset comment "lb:${backend.name}"`)
      : []),
  ].join('\n');
}

/** The per-backend counters from `nft -j list chain inet <table> lb_count`'s output. Pure. */
export function parseCounters(json: string): Map<string, number> {
  const counts = new Map<string, number>();
  try {
    for (const item of (JSON.parse(json) as { nftables: { rule?: { comment?: string; expr?: { counter?: { packets: number } }[] } }[] }).nftables) {
      const comment = item.rule?.comment;
      const counter = item.rule?.expr?.find((expr) => expr.counter)?.counter;
      if (comment?.startsWith('lb:') && counter) counts.set(comment.slice(3), counter.packets);
    }
  } catch {
    // Not nft's JSON: no counts.
  }
  return counts;
}

export const COUNTERS_CHAIN = COUNT_CHAIN;
