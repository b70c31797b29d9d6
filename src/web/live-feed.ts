/** A backend as the page shows it: the load balancer's state and the process's, in words. */
export interface LiveBackend {
  name: string;
  zone: string;
  /** For the page's colour: serving, failing (checks failing, still in rotation), down, coming-back, unknown. */
  state: 'serving' | 'failing' | 'down' | 'coming-back' | 'unknown';
  /** The load balancer's state in words ("checks failing (1 of 2)"). */
  words: string;
  /** What the process is doing ("running", "stopped (kill)"). */
  process: string;
}

/** Something worth a vertical line on the chart. `t` in seconds on the feed's clock. */
export interface LiveMark {
  t: number;
  kind: 'fault' | 'restart' | 'ready' | 'lb';
  label: string;
}

/** A stretch of the run (warm-up, outage, …); `t1` null while it lasts. */
export interface LivePhase {
  name: string;
  t0: number;
  t1: number | null;
}

/** The phase and the running measurements, as label/value pairs ready to show. */
export interface LiveStatus {
  phase: string | null;
  measures: { label: string; value: string }[];
}

/** Requests in one bin of one series (a zone, or `failed`). `t` is the bin's start, seconds. */
export interface LiveBin {
  t: number;
  series: string;
  n: number;
}

/** What the lab view's buttons do, with the command each one is. */
export interface LiveControls {
  zones: string[];
  faults: string[];
  /** `zonelab lab … ` prefix the page shows (with --dir when it is not the default). */
  command: string;
}

export interface LiveDone {
  /** One-line results. */
  lines: string[];
  /** The final report (self-contained HTML), or null when none was written. */
  reportHtml: string | null;
}

export interface LiveSnapshot {
  title: string;
  view: 'lab' | 'failover';
  /** The chart's series in stacking order: the zones, then `failed`. */
  series: string[];
  binMs: number;
  /** How many seconds the chart shows (a sliding window), or null for the whole run. */
  windowSec: number | null;
  /** The feed's clock, seconds. */
  now: number;
  bins: LiveBin[];
  backends: LiveBackend[];
  marks: LiveMark[];
  phases: LivePhase[];
  status: LiveStatus;
  controls: LiveControls | null;
  done: LiveDone | null;
}

/** One message to the page (sent as one server-sent event). */
export type LiveMessage =
  | ({ type: 'snapshot' } & LiveSnapshot)
  | { type: 'bins'; now: number; bins: LiveBin[] }
  | { type: 'backends'; backends: LiveBackend[] }
  | { type: 'mark'; mark: LiveMark }
  | { type: 'phases'; phases: LivePhase[] }
  | { type: 'status'; status: LiveStatus }
  | { type: 'done'; done: LiveDone };

export interface LiveFeedOptions {
  title: string;
  view: 'lab' | 'failover';
  /** The zones, in order. */
  zones: string[];
  /** The clock bins and marks are on, ms (a run's clock); default ms since the feed was made. */
  now?: () => number;
  /** Bin width, ms; default 100. */
  binMs?: number;
  /** Keep (and show) only the last this many seconds; default: everything. */
  windowSec?: number | null;
  controls?: LiveControls | null;
}

export const FAILED_SERIES = 'failed';

function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * The live page's data: requests counted into fixed bins (per zone, failures apart) and
 * closed every bin width, backend states, marks, phases and running measurements. Every
 * page attached gets a snapshot, then each change as it happens; nothing here waits on a
 * page, so a slow or stuck browser cannot slow the run (its socket buffers, not us).
 */
export class LiveFeed {
  readonly #options: Required<Omit<LiveFeedOptions, 'controls' | 'windowSec'>> & { windowSec: number | null; controls: LiveControls | null };
  readonly #subscribers = new Set<(message: LiveMessage) => void>();
  readonly #bins: LiveBin[] = [];
  readonly #open = new Map<string, number>();
  /** Requests for bins already sent, by `<bin start ms>\0<series>`. */
  readonly #late = new Map<string, number>();
  #openStart: number;
  #backends: LiveBackend[] = [];
  #backendsJson = '';
  readonly #marks: LiveMark[] = [];
  #phases: LivePhase[] = [];
  #status: LiveStatus = { phase: null, measures: [] };
  #done: LiveDone | null = null;
  readonly #timer: NodeJS.Timeout;

  constructor(options: LiveFeedOptions) {
    const started = performance.now();
    this.#options = {
      now: () => performance.now() - started,
      binMs: 100,
      ...options,
      windowSec: options.windowSec ?? null,
      controls: options.controls ?? null,
    };
    this.#openStart = this.#binStart(this.#options.now());
    this.#timer = setInterval(() => this.flush(), this.#options.binMs).unref();
  }

  /** Seconds on the feed's clock. */
  now(): number {
    return round(this.#options.now() / 1000);
  }

  #binStart(ms: number): number {
    return Math.floor(ms / this.#options.binMs) * this.#options.binMs;
  }

  /**
   * `n` requests of `series` (a zone, or `FAILED_SERIES`), counted in the bin of `atMs`
   * (default now). A run counts each request at the time it was due to be sent, as its
   * report does: by when answers arrive, a steady rate would look jagged and a slow
   * stretch would pile up into a spike. A bin already sent gets its late requests in the
   * next message, under its own time (the page sums bins of one time and series).
   */
  count(series: string, n = 1, atMs?: number): void {
    if (n <= 0) return;
    this.flush();
    const start = atMs === undefined ? this.#openStart : this.#binStart(atMs);
    if (start >= this.#openStart) {
      this.#open.set(series, (this.#open.get(series) ?? 0) + n);
      return;
    }
    const key = `${start}\u0000${series}`;
    this.#late.set(key, (this.#late.get(key) ?? 0) + n);
  }

  /** Closes the open bin when its time is over and sends it (called every bin width). */
  flush(): void {
    const nowMs = this.#options.now();
    const current = this.#binStart(nowMs);
    if (current === this.#openStart) return;
    const closed = this.#takeCounted();
    this.#openStart = current;
    this.#bins.push(...closed);
    this.#prune(nowMs / 1000);
    this.#send({ type: 'bins', now: round(nowMs / 1000), bins: closed });
  }

  #prune(now: number): void {
    const windowSec = this.#options.windowSec;
    if (windowSec === null) return;
    const from = now - windowSec;
    const oldBins = this.#bins.findIndex((bin) => bin.t >= from);
    this.#bins.splice(0, oldBins === -1 ? this.#bins.length : oldBins);
    const oldMarks = this.#marks.findIndex((mark) => mark.t >= from);
    this.#marks.splice(0, oldMarks === -1 ? this.#marks.length : oldMarks);
  }

  /** The backends now; sent only when something changed. */
  backends(backends: LiveBackend[]): void {
    const json = JSON.stringify(backends);
    if (json === this.#backendsJson) return;
    this.#backendsJson = json;
    this.#backends = backends;
    this.#send({ type: 'backends', backends });
  }

  mark(kind: LiveMark['kind'], label: string, atMs = this.#options.now()): void {
    const mark = { t: round(atMs / 1000), kind, label };
    this.#marks.push(mark);
    this.#send({ type: 'mark', mark });
  }

  /** A new phase begins at `atMs` (the one before it ends there). */
  phase(name: string, atMs = this.#options.now()): void {
    const t = round(atMs / 1000);
    const last = this.#phases.at(-1);
    if (last?.name === name) return;
    this.#phases = [...this.#phases.map((phase) => (phase.t1 === null ? { ...phase, t1: t } : phase)), { name, t0: t, t1: null }];
    this.#send({ type: 'phases', phases: this.#phases });
  }

  status(status: LiveStatus): void {
    this.#status = status;
    this.#send({ type: 'status', status });
  }

  /** The run is over: the page shows the final report. */
  done(done: LiveDone): void {
    this.flush();
    this.#sendCounted();
    this.#phases = this.#phases.map((phase) => (phase.t1 === null ? { ...phase, t1: this.now() } : phase));
    this.#done = done;
    this.#send({ type: 'done', done });
  }

  /** What was counted and not sent yet: the late requests under their own bins' times, then the open bin; none left. */
  #takeCounted(): LiveBin[] {
    const late = [...this.#late].map(([key, n]) => {
      const [start, series] = key.split('\u0000') as [string, string];
      return { t: round(Number(start) / 1000), series, n };
    });
    const t = round(this.#openStart / 1000);
    const open = [...this.#open].map(([series, n]) => ({ t, series, n }));
    this.#late.clear();
    this.#open.clear();
    return [...late, ...open];
  }

  /** Sends what was counted now, without waiting for the open bin to close. */
  #sendCounted(): void {
    const bins = this.#takeCounted();
    if (bins.length === 0) return;
    this.#bins.push(...bins);
    this.#send({ type: 'bins', now: this.now(), bins });
  }

  get finished(): boolean {
    return this.#done !== null;
  }

  snapshot(): LiveSnapshot {
    const { title, view, zones, binMs, windowSec, controls } = this.#options;
    return {
      title,
      view,
      series: [...zones, FAILED_SERIES],
      binMs,
      windowSec,
      now: this.now(),
      bins: [...this.#bins],
      backends: this.#backends,
      marks: [...this.#marks],
      phases: this.#phases,
      status: this.#status,
      controls,
      done: this.#done,
    };
  }

  /** Attaches a page: it gets the snapshot now, then every message. Returns the detach function. */
  subscribe(send: (message: LiveMessage) => void): () => void {
    send({ type: 'snapshot', ...this.snapshot() });
    this.#subscribers.add(send);
    return () => this.#subscribers.delete(send);
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  #send(message: LiveMessage): void {
    for (const send of this.#subscribers) send(message);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#subscribers.clear();
  }
}
