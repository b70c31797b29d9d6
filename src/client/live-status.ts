import type { RequestResult } from '../records/index.js';

/**
 * The numbers of the live status line: totals so far, and how the answers of the last
 * second split between zones (what shifts when a zone dies).
 */
export class LiveStatus {
  sent = 0;
  ok = 0;
  errors = 0;
  private recent: { at: number; zone: string }[] = [];

  record(result: RequestResult, at: number): void {
    if (result.attempt === 1) this.sent++;
    if (result.error !== null || (result.status !== null && result.status >= 500)) this.errors++;
    else if (result.status !== null) this.ok++;
    this.recent.push({ at, zone: result.zone ?? (result.error ? 'error' : '(none)') });
  }

  /** `elapsed 12.3 s  sent 1234  ok 1200  errors 3  last 1 s: us-east1-b 51% us-east1-c 49%` */
  line(now: number): string {
    const from = this.recent.findIndex((entry) => entry.at > now - 1000);
    this.recent = from === -1 ? [] : this.recent.slice(from);
    const counts = new Map<string, number>();
    for (const { zone } of this.recent) counts.set(zone, (counts.get(zone) ?? 0) + 1);
    const shares = [...counts.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([zone, n]) => `${zone} ${Math.round((n / this.recent.length) * 100)}%`)
      .join(' ');
    return `elapsed ${(now / 1000).toFixed(1)} s  sent ${this.sent}  ok ${this.ok}  errors ${this.errors}  last 1 s: ${shares || '-'}`;
  }
}
