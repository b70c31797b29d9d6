import type { RequestResult } from '../records/index.js';

/** What the warm-up asked for, to name it when the answers show it was the wrong thing. */
export interface WarmupAsked {
  url: string;
  /** The paths the requests were drawn from, e.g. `/bucket/webdir/0.html … /bucket/webdir/9999.html`. */
  paths: string;
  /** The flags that choose those paths here (a lab's and a target's differ). */
  pathFlags: string;
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/**
 * The warm-up's answers as counts, taken as they come: what `problem` needs to judge them,
 * in a few maps whatever the warm-up's length and rate (a run keeps no records in memory).
 * Each request is added once, by its last attempt.
 */
export class WarmupTally {
  private requests = 0;
  private answers = 0;
  private zoned = 0;
  private good = 0;
  private serverErrors = 0;
  private readonly noAnswerKinds = new Map<string, number>();
  private readonly statuses = new Map<string, number>();
  private readonly zones = new Map<string, number>();
  private faultZoneAnswers = 0;

  constructor(private readonly faultZone: string) {}

  add(record: RequestResult): void {
    this.requests++;
    if (record.status === null) {
      bump(this.noAnswerKinds, record.error ?? 'no answer');
      return;
    }
    this.answers++;
    bump(this.statuses, String(record.status));
    if (record.status < 400 || record.status === 400) this.good++;
    if (record.status >= 500) this.serverErrors++;
    if (record.zone !== null) {
      this.zoned++;
      if (record.zone === this.faultZone) this.faultZoneAnswers++;
      // The counts only name the zones that did answer; a target with a new zone name in every
      // answer cannot grow them past a thousand.
      if (this.zones.size < 1000 || this.zones.has(record.zone)) bump(this.zones, record.zone);
    }
  }

  /**
   * Whether the warm-up's answers are something a failover can be measured against; null
   * when they are, else the one line that says why not and its code (E_TARGET_SILENT when
   * nothing answered at all). A failover measured on answers that carry no zone, or on
   * errors, or with the zone to fault already absent, comes out as "rerouted in 0.00 s, no
   * request failed": plausible and wrong. Refusals (400) count as good answers: a forbidden
   * country is refused by a working server.
   */
  problem(asked: WarmupAsked): { code: 'E_TARGET_SILENT' | 'E_WARMUP_UNFIT'; message: string } | null {
    const message = this.unfitReason(asked);
    if (message === null) return null;
    return { code: this.answers > 0 ? 'E_WARMUP_UNFIT' : 'E_TARGET_SILENT', message };
  }

  private unfitReason(asked: WarmupAsked): string | null {
    if (this.answers === 0) {
      return `${asked.url} answered none of the ${this.requests} requests of the warm-up (${formatCounts(this.noAnswerKinds) || 'none came back'}): nothing to measure, no report written`;
    }
    const statuses = formatCounts(this.statuses);
    if (this.zoned === 0) {
      return `none of the ${this.answers} answers of the warm-up from ${asked.url} carried an X-Zone header (statuses: ${statuses}): it is not a zonelab server or a balancer in front of them, so no zone can be seen failing; no report written`;
    }
    if (this.good * 2 < this.answers) {
      const why =
        this.serverErrors * 2 >= this.answers - this.good
          ? 'the servers answer errors, not missing pages: see their logs (a bucket they cannot read, say)'
          : `check ${asked.pathFlags} against the pages the servers hold`;
      return `only ${this.good} of the ${this.answers} answers of the warm-up were successes (statuses: ${statuses}) for ${asked.paths}: ${why}; no report written`;
    }
    if (this.faultZoneAnswers === 0) {
      const few = this.zoned < 20 ? ` (only ${this.zoned} answers: a longer --warmup shows more)` : '';
      return `--fault-zone ${this.faultZone} never answered during the warm-up; the zones that did: ${formatCounts(this.zones, ' answers')}${few}: the fault would be measured on a zone that already takes no traffic; no report written`;
    }
    return null;
  }
}

/** `404 ×283, 200 ×3`, most frequent first. */
function formatCounts(counts: Map<string, number>, unit = ''): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([name, n]) => (unit ? `${name} (${n}${unit})` : `${name} ×${n}`))
    .join(', ');
}
