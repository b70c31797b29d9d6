import { failed, type RequestResult } from '../records/index.js';

/**
 * The one definition of reroute and return (see the project's design), as a reducer over
 * request records: the experiment feeds it live to decide when to move on, the metrics
 * feed it a saved run. Every rule uses only maxima and minima of `sentAt`, so the order
 * records arrive in (completion order live, sent order when re-read) does not matter.
 */
export class FailoverTracker {
  readonly faultZone: string;
  faultAt: number | null = null;
  restartAt: number | null = null;
  /** Last request sent in the outage (after the fault, before the restart) that failed or reached the faulted zone. */
  lastBadSentAt: number | null = null;
  /** Last request sent in the outage that a healthy zone answered. */
  lastGoodSentAt: number | null = null;
  /** First request sent after the restart that the faulted zone answered without failing. */
  firstReturnAt: number | null = null;

  constructor(faultZone: string) {
    this.faultZone = faultZone;
  }

  fault(at: number): void {
    this.faultAt = at;
  }

  restart(at: number): void {
    this.restartAt = at;
  }

  observe(record: RequestResult): void {
    if (this.faultAt === null || record.sentAt < this.faultAt) return;
    if (this.restartAt === null || record.sentAt < this.restartAt) {
      if (failed(record) || record.zone === this.faultZone) this.lastBadSentAt = Math.max(this.lastBadSentAt ?? record.sentAt, record.sentAt);
      else this.lastGoodSentAt = Math.max(this.lastGoodSentAt ?? record.sentAt, record.sentAt);
    } else if (!failed(record) && record.zone === this.faultZone) {
      this.firstReturnAt = Math.min(this.firstReturnAt ?? record.sentAt, record.sentAt);
    }
  }

  /** Whether traffic left the faulted zone: nothing bad in the outage, or a good request after the last bad one. */
  get rerouted(): boolean {
    if (this.faultAt === null) return false;
    return this.lastBadSentAt === null || (this.lastGoodSentAt !== null && this.lastGoodSentAt > this.lastBadSentAt);
  }

  /** Last bad request minus the fault (0 when there was none); null when not rerouted. */
  get timeToRerouteMs(): number | null {
    if (!this.rerouted || this.faultAt === null) return null;
    return this.lastBadSentAt === null ? 0 : this.lastBadSentAt - this.faultAt;
  }

  /** How long, at `now`, nothing bad has been sent (since the fault or the last bad request). */
  cleanFor(now: number): number {
    if (this.faultAt === null) return 0;
    return now - Math.max(this.lastBadSentAt ?? this.faultAt, this.faultAt);
  }

  /** How long, at `now`, the faulted zone has been serving again; null before it does. */
  returnedFor(now: number): number | null {
    return this.firstReturnAt === null ? null : now - this.firstReturnAt;
  }

  get timeToReturnMs(): number | null {
    return this.firstReturnAt === null || this.restartAt === null ? null : this.firstReturnAt - this.restartAt;
  }
}
