import { createHash } from 'node:crypto';
import { ZonelabError } from '../errors.js';
import { runNft } from '../nft.js';

/** A server whose traffic a network fault cuts: its own address and port. */
export interface NetworkFaultTarget {
  name: string;
  host: string;
  port: number;
}

/** The nftables table a lab's network faults live in: named after the lab's folder. */
export function nftTableOf(labDir: string): string {
  return `zonelab_${createHash('sha256').update(labDir).digest('hex').slice(0, 12)}`;
}

const nft = runNft;

/** Throws one clear line unless this process can change nftables rules (root and nft). */
export function checkNetworkFaultsPossible(): void {
  if (process.getuid?.() !== 0) {
    throw new ZonelabError('E_NEED_ROOT', 'network faults (partition, reset) change nftables rules and need root: run as root, or use a gray fault (latency, errors, health-fail, flap)');
  }
  nft(['--version']);
}

/**
 * The rules of one fault on one server. Loopback traffic passes the output hook in both
 * directions, so one chain there sees the client's and HAProxy's packets to the server
 * and the server's answers: `partition` drops both (connects and checks time out,
 * established connections hang); `reset` answers every packet sent to the server with a
 * TCP reset (connects refused, established connections reset).
 */
function rulesFor(table: string, kind: 'partition' | 'reset', target: NetworkFaultTarget): string[] {
  const tag = `comment "zonelab:${target.name}"`;
  const to = `ip daddr ${target.host} tcp dport ${target.port}`;
  if (kind === 'reset') return [`add rule inet ${table} output ${to} reject with tcp reset ${tag}`];
  return [`add rule inet ${table} output ${to} drop ${tag}`, `add rule inet ${table} output ip saddr ${target.host} tcp sport ${target.port} drop ${tag}`];
}

/** Adds the fault's rules for each target (creating the table when missing), in one transaction. */
export function applyNetworkFault(table: string, kind: 'partition' | 'reset', targets: readonly NetworkFaultTarget[]): void {
  checkNetworkFaultsPossible();
  const script = [
    `add table inet ${table}`,
    `add chain inet ${table} output { type filter hook output priority 0 ; policy accept ; }`,
    ...targets.flatMap((target) => rulesFor(table, kind, target)),
  ].join('\n');
  const result = nft(['-f', '-'], `${script}\n`);
  if (!result.ok) throw new ZonelabError('E_NETWORK_FAULT', `nft refused the ${kind} rules: ${result.output.split('\n')[0]}`);
}

interface NftRule {
  rule?: { handle: number; comment?: string };
}

/** The lab's rules with the server each is for; empty when there is no table. */
function listRules(table: string): { handle: number; server: string }[] {
  const listed = nft(['-j', 'list', 'chain', 'inet', table, 'output']);
  if (!listed.ok) return [];
  return (JSON.parse(listed.output) as { nftables: NftRule[] }).nftables.flatMap((item) =>
    item.rule?.comment?.startsWith('zonelab:') ? [{ handle: item.rule.handle, server: item.rule.comment.slice('zonelab:'.length) }] : [],
  );
}

/** Removes the rules of the named servers; the other servers' rules stay. */
export function removeNetworkFault(table: string, names: readonly string[]): void {
  const handles = listRules(table).flatMap((rule) => (names.includes(rule.server) ? [rule.handle] : []));
  if (handles.length === 0) return;
  const result = nft(['-f', '-'], `${handles.map((handle) => `delete rule inet ${table} output handle ${handle}`).join('\n')}\n`);
  if (!result.ok) throw new ZonelabError('E_NETWORK_FAULT', `nft could not remove rules: ${result.output.split('\n')[0]}`);
}

/** Deletes the lab's table with every rule in it; nothing happens when there is none. */
export function removeNetworkTable(table: string): void {
  if (process.getuid?.() !== 0) return;
  try {
    if (nft(['list', 'table', 'inet', table]).ok) nft(['delete', 'table', 'inet', table]);
  } catch {
    // No nft: then no rule of ours can exist either.
  }
}

/** The names of the servers that have rules in the table now (what the tests check). */
export function serversWithNetworkFault(table: string): string[] {
  if (process.getuid?.() !== 0) return [];
  try {
    return [...new Set(listRules(table).map((rule) => rule.server))];
  } catch {
    return [];
  }
}
