import { failed, type RequestResult } from '../records/index.js';

/**
 * The one definition of reroute and return (see the project's design), as a reducer over
 * request records: the experiment feeds it live to decide when to move on, the metrics
 * feed it a saved run. Every rule uses only maxima and minima of `sentAt`, so the order
 * records arrive in (completion order live, sent order when re-read) does not matter.
 */
export class FailoverTracker {
  readonly faultZone: string;
  /** How long the outage must end clean to count as rerouted (the run's hold), ms. */
  readonly holdMs: number;
  faultAt: number | null = null;
  restartAt: number | null = null;
  /** Last request sent in the outage (after the fault, before the restart) that failed or reached the faulted zone. */
  lastBadSentAt: number | null = null;
  /** Last request sent in the outage that a healthy zone answered. */
  lastGoodSentAt: number | null = null;
  /** First request sent after the restart that the faulted zone answered without failing. */
  firstReturnAt: number | null = null;
  // Requests sent and not answered yet, oldest first (live only): a request still hanging
  // on a dead zone will be a bad one, so nothing after it counts as clean yet.
  readonly #inFlight = new Map<number, number>();
  // Answers that arrive while the fault is being injected, before its time is known (a
  // draining server takes seconds to exit): judged once it is.
  #pending: RequestResult[] | null = null;

  #lastSentAt = 0;

  constructor(faultZone: string, holdMs = 0) {
    this.faultZone = faultZone;
    this.holdMs = holdMs;
  }

  /** The fault is being injected; its time comes with `fault(at)`. */
  faulting(): void {
    this.#pending ??= [];
  }

  fault(at: number): void {
    this.faultAt = at;
    const pending = this.#pending ?? [];
    this.#pending = null;
    for (const record of pending) this.observe(record);
  }

  restart(at: number): void {
    this.restartAt = at;
  }

  /** A request left at `sentAt` (live runs tell this; a saved run needs not). */
  sent(seq: number, sentAt: number): void {
    this.#inFlight.set(seq, sentAt);
  }

  observe(record: RequestResult): void {
    this.#inFlight.delete(record.seq);
    this.#lastSentAt = Math.max(this.#lastSentAt, record.sentAt);
    if (this.faultAt === null) {
      this.#pending?.push(record);
      return;
    }
    if (record.sentAt < this.faultAt) return;
    if (this.restartAt === null || record.sentAt < this.restartAt) {
      if (failed(record) || record.zone === this.faultZone) this.lastBadSentAt = Math.max(this.lastBadSentAt ?? record.sentAt, record.sentAt);
      else this.lastGoodSentAt = Math.max(this.lastGoodSentAt ?? record.sentAt, record.sentAt);
    } else if (!failed(record) && record.zone === this.faultZone) {
      this.firstReturnAt = Math.min(this.firstReturnAt ?? record.sentAt, record.sentAt);
    }
  }

  /**
   * Whether traffic left the faulted zone: only good requests in the outage, for at least
   * `holdMs` after the fault, or good requests after the last bad one and, from it to the end of the outage (the restart), at least
   * `holdMs`: a zone that keeps getting requests now and then was not rerouted.
   */
  get rerouted(): boolean {
    if (this.faultAt === null) return false;
    // Nothing bad is evidence only once good answers came after the fault, for the hold: a
    // run interrupted a moment after the kill saw nothing either way.
    if (this.lastBadSentAt === null) return this.lastGoodSentAt !== null && (this.restartAt ?? this.#lastSentAt) - this.faultAt >= this.holdMs;
    if (this.lastGoodSentAt === null || this.lastGoodSentAt <= this.lastBadSentAt) return false;
    return (this.restartAt ?? this.#lastSentAt) - this.lastBadSentAt >= this.holdMs;
  }

  /** Last bad request minus the fault (0 when there was none); null when not rerouted. */
  get timeToRerouteMs(): number | null {
    if (!this.rerouted || this.faultAt === null) return null;
    return this.lastBadSentAt === null ? 0 : this.lastBadSentAt - this.faultAt;
  }

  /**
   * How long, at `now`, nothing bad has been sent (since the fault or the last bad
   * request), counting only up to the oldest request still unanswered.
   */
  cleanFor(now: number): number {
    if (this.faultAt === null) return 0;
    const oldestOpen = this.#inFlight.values().next();
    const known = oldestOpen.done ? now : Math.min(now, oldestOpen.value);
    return Math.max(0, known - Math.max(this.lastBadSentAt ?? this.faultAt, this.faultAt));
  }

  /** How long, at `now`, the faulted zone has been serving again; null before it does. */
  returnedFor(now: number): number | null {
    return this.firstReturnAt === null ? null : now - this.firstReturnAt;
  }

  get timeToReturnMs(): number | null {
    return this.firstReturnAt === null || this.restartAt === null ? null : this.firstReturnAt - this.restartAt;
  }
}
