import { finalAttempts, type RequestResult } from '../records/index.js';

/** What the warm-up asked for, to name it when the answers show it was the wrong thing. */
export interface WarmupAsked {
  url: string;
  /** The paths the requests were drawn from, e.g. `/bucket/webdir/0.html … /bucket/webdir/9999.html`. */
  paths: string;
  /** The flags that choose those paths here (a lab's and a target's differ). */
  pathFlags: string;
  faultZone: string;
}

/**
 * Whether the warm-up's answers are something a failover can be measured against; null
 * when they are, else the one line that says why not and its code (E_TARGET_SILENT when
 * nothing answered at all). A failover measured on answers that
 * carry no zone, or on errors, or with the zone to fault already absent, comes out as
 * "rerouted in 0.00 s, no request failed": plausible and wrong. Refusals (400) count as
 * good answers: a forbidden country is refused by a working server.
 */
export function warmupProblem(records: readonly RequestResult[], asked: WarmupAsked): { code: 'E_TARGET_SILENT' | 'E_WARMUP_UNFIT'; message: string } | null {
  const message = unfitReason(records, asked);
  if (message === null) return null;
  return { code: records.some((record) => record.status !== null) ? 'E_WARMUP_UNFIT' : 'E_TARGET_SILENT', message };
}

function unfitReason(records: readonly RequestResult[], asked: WarmupAsked): string | null {
  const finals = finalAttempts(records);
  const answers = finals.filter((record) => record.status !== null);
  if (answers.length === 0) {
    const kinds = countBy(finals, (record) => record.error ?? 'no answer');
    return `${asked.url} answered none of the ${finals.length} requests of the warm-up (${formatCounts(kinds) || 'none came back'}): nothing to measure, no report written`;
  }
  const statuses = formatCounts(countBy(answers, (record) => String(record.status)));
  const zoned = answers.filter((record) => record.zone !== null);
  if (zoned.length === 0) {
    return `none of the ${answers.length} answers of the warm-up from ${asked.url} carried an X-Zone header (statuses: ${statuses}): it is not a zonelab server or a balancer in front of them, so no zone can be seen failing; no report written`;
  }
  const good = answers.filter((record) => record.status! < 400 || record.status === 400).length;
  if (good * 2 < answers.length) {
    const serverErrors = answers.filter((record) => record.status! >= 500).length;
    const why =
      serverErrors * 2 >= answers.length - good
        ? 'the servers answer errors, not missing pages: see their logs (a bucket they cannot read, say)'
        : `check ${asked.pathFlags} against the pages the servers hold`;
    return `only ${good} of the ${answers.length} answers of the warm-up were successes (statuses: ${statuses}) for ${asked.paths}: ${why}; no report written`;
  }
  const zones = countBy(zoned, (record) => record.zone!);
  if (!zones.has(asked.faultZone)) {
    const few = zoned.length < 20 ? ` (only ${zoned.length} answers: a longer --warmup shows more)` : '';
    return `--fault-zone ${asked.faultZone} never answered during the warm-up; the zones that did: ${formatCounts(zones, ' answers')}${few}: the fault would be measured on a zone that already takes no traffic; no report written`;
  }
  return null;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** `404 ×283, 200 ×3`, most frequent first. */
function formatCounts(counts: Map<string, number>, unit = ''): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([name, n]) => (unit ? `${name} (${n}${unit})` : `${name} ×${n}`))
    .join(', ');
}
