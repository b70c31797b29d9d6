/** Something that happened during a run, on the same clock as the request records. */
export interface RunEvent {
  /** Milliseconds since the run started (monotonic), like `RequestResult.sentAt`. */
  at: number;
  kind: 'phase' | 'fault' | 'recover' | 'server-ready' | 'lb-state';
  /** The zone or instance concerned (for `phase`: the phase's name). */
  target: string;
  /** `kill`, `UP`, `DOWN 1/2`, a command line, … */
  detail: string;
}
