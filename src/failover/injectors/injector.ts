/** One way of breaking a zone and putting it back, behind the same three steps. */
export interface FaultInjector {
  /** What it does, for progress lines ("kill us-east1-b", "`ssh vm kill`"). */
  readonly label: string;
  /**
   * Injects the fault; resolves with the moment it counts from, on the run's clock given
   * as `now` (a signal counts from when it is sent, a command from when it returned).
   */
  inject(now: () => number): Promise<number>;
  /** Undoes it; resolves once the zone answers its health check again, with how that was known. */
  heal(): Promise<string>;
}
