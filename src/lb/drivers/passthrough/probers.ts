/**
 * The model of Google Cloud's health checking that zonelab holds cloud runs to (see
 * src/lb/bounds.ts) and the lab's passthrough balancer runs: what is documented, and the
 * rules zonelab adds where the documentation is silent. Pure: every decision is a
 * function of the probes' results.
 *
 * Documented (https://cloud.google.com/load-balancing/docs/health-check-concepts): several
 * probers check each backend ("Multiple probes and frequency"); the check interval is
 * "the amount of time from the start of one probe issued by one prober to the start of the
 * next probe issued by the same prober", which zonelab reads as: each prober sends a probe
 * every `checkIntervalSec` whether or not its previous probe has answered. Each probe may
 * take `timeoutSec`; `healthyThreshold` sequential successes mark a backend healthy and
 * `unhealthyThreshold` sequential failures unhealthy. A new backend starts unhealthy.
 *
 * Not documented: how the probers' opinions combine. Here each prober keeps its own
 * verdict from its own sequence, and `rule` says how many verdicts of "unhealthy" take a
 * backend out of service: `any` (one), `majority` (more than half), `all` (every one). It
 * comes back when fewer than that remain. Nor how long the traffic takes to follow a
 * verdict: the prober process waits `applyDelayMs` (0 by default).
 */

export type ProberRule = 'any' | 'majority' | 'all';
export const PROBER_RULES: readonly ProberRule[] = ['any', 'majority', 'all'];

export interface ProberPolicy {
  probers: number;
  rule: ProberRule;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

interface Verdict {
  healthy: boolean;
  successes: number;
  failures: number;
  /** What this prober's last probe said: `200`, `503`, `timeout`, `refused` … */
  last: string;
}

/** How many unhealthy verdicts take a backend out of service. Pure. */
export function outAt(policy: Pick<ProberPolicy, 'probers' | 'rule'>): number {
  return policy.rule === 'any' ? 1 : policy.rule === 'all' ? policy.probers : Math.floor(policy.probers / 2) + 1;
}

/** One backend's health as its probers see it. */
export class BackendHealth {
  readonly #policy: ProberPolicy;
  readonly #verdicts: Verdict[];

  constructor(policy: ProberPolicy) {
    this.#policy = policy;
    // A new backend starts unhealthy (Google: "a backend is considered unhealthy until …").
    this.#verdicts = Array.from({ length: policy.probers }, () => ({ healthy: false, successes: 0, failures: 0, last: '' }));
  }

  /** One prober's probe ended; returns whether the backend's service state changed. */
  record(prober: number, ok: boolean, said: string): boolean {
    const before = this.inService;
    const verdict = this.#verdicts[prober]!;
    verdict.last = said;
    if (ok) {
      verdict.successes++;
      verdict.failures = 0;
      if (!verdict.healthy && verdict.successes >= this.#policy.healthyThreshold) verdict.healthy = true;
    } else {
      verdict.failures++;
      verdict.successes = 0;
      if (verdict.healthy && verdict.failures >= this.#policy.unhealthyThreshold) verdict.healthy = false;
    }
    return this.inService !== before;
  }

  get unhealthyVerdicts(): number {
    return this.#verdicts.filter((verdict) => !verdict.healthy).length;
  }

  get inService(): boolean {
    return this.unhealthyVerdicts < outAt(this.#policy);
  }

  /**
   * In zonelab's notation: `UP`; `UP n/m`, in service with n more unhealthy verdicts of m
   * taking it out; `DOWN n/m`, out with n of the m healthy verdicts it needs; `DOWN`.
   */
  get status(): string {
    const out = outAt(this.#policy);
    const unhealthy = this.unhealthyVerdicts;
    if (this.inService) return unhealthy === 0 ? 'UP' : `UP ${out - unhealthy}/${out}`;
    const healthy = this.#policy.probers - unhealthy;
    const needed = this.#policy.probers - out + 1;
    return healthy === 0 ? 'DOWN' : `DOWN ${healthy}/${needed}`;
  }

  /** The probers' last answers, in order: `200 200 timeout`. */
  get lastAnswers(): string {
    return this.#verdicts.map((verdict) => verdict.last || '-').join(' ');
  }
}

/**
 * When each prober's first probe falls within an interval: spread evenly (the middle of
 * each N-th), so probers do not probe in step; each probes every interval after it. Pure.
 */
export function proberOffsets(probers: number, intervalMs: number): number[] {
  return Array.from({ length: probers }, (_, i) => Math.round(((i + 0.5) / probers) * intervalMs));
}
