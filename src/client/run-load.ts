import { setImmediate as yieldTurn, setTimeout as sleep } from 'node:timers/promises';
import { Agent, Client, interceptors } from 'undici';
import { CONNECTION_FAILURES, errorCodeOf } from './error-codes.js';
import { getOnce } from './get-once.js';
import { createNewConnectionGets, type NewConnectionGets } from './get-on-new-connection.js';
import type { ZoneAnswer } from './http1.js';
import { createKeepAliveConnection } from './keep-alive-connection.js';
import type { RequestResult } from '../records/index.js';
import type { PlannedRequest } from './request-model.js';

export type LoadMode = { kind: 'open'; rate: number } | { kind: 'closed'; concurrency: number };

export interface LoadOptions {
  /** `http://host:port` or `https://host:port`. */
  origin: string;
  /** The next request to send; called once per request, in request order. */
  next: () => PlannedRequest;
  /** Open loop: `rate` requests/s on schedule. Closed loop: `concurrency` requests in flight. */
  mode: LoadMode;
  /** Stop after this many requests … */
  requests?: number | undefined;
  /** … or after this many ms (the first reached wins). */
  durationMs?: number | undefined;
  /** Reuse a pool of `connections` connections; otherwise one new connection per request. */
  keepalive: boolean;
  connections: number;
  /** Per attempt, ms: to connect, then for the response to start, then for each pause in its body. */
  timeoutMs: number;
  /** Open loop: at most this many requests in flight; one that comes due beyond it is not sent (counted in `unsent`). Default: twice rate × timeout × attempts, at least 64, at most 10,000. */
  maxInFlight?: number;
  /** Retries of a connection failure, each on a new connection. */
  retries: number;
  /** Follow Location redirects (up to 5). */
  follow: boolean;
  /** Aborting stops sending; in-flight requests get `graceMs` (default 2000) to finish. */
  signal: AbortSignal;
  graceMs?: number;
  /** Called for every attempt as it ends; `final` when no retry of the same request follows. */
  onResult: (record: RequestResult, final: boolean) => void;
  /** Told when an attempt starts (before its result), with its `seq` and `sentAt`. */
  onSend?: (seq: number, sentAt: number) => void;
  /** `performance.now()` value the records' times count from; default the call's start. */
  epoch?: number;
}

export interface LoadOutcome {
  /** Requests started (retries not counted). */
  sent: number;
  /** From the start to the last answer, ms. */
  elapsedMs: number;
  /** True when the run was stopped by `signal` before its end. */
  interrupted: boolean;
  /** Open loop: the most a request started after it was due, ms (0 in a closed loop). */
  maxLagMs: number;
  /** Open loop: when requests started noticeably late (each stretch of late requests, by due time). */
  lagEpisodes: LagEpisode[];
  /**
   * Open loop: requests not sent rather than queued without end, because as many were in
   * flight as the bound allows (`maxInFlight`) or the loop was more than a second behind
   * its schedule (the rate is beyond the machine); 0 when the rate was kept.
   */
  unsent: number;
  /** When they came due, by stretch. */
  unsentEpisodes: UnsentEpisode[];
}

/** A stretch of requests the open loop could not send (the machine or the target could not keep up). */
export interface UnsentEpisode {
  fromMs: number;
  toMs: number;
  count: number;
}

/** The most requests the open loop keeps in flight by default. */
const MAX_IN_FLIGHT = 10_000;

/** Behind its schedule, the open loop sends without awaiting: it gives the event loop a turn this often (answers, timers, a Ctrl-C). */
const YIELD_EVERY_MS = 5;

/** Adds `count` requests not sent, due from `dueMs` to `lastDueMs`, to the episodes (pure apart from the array it grows). */
export function noteUnsent(episodes: UnsentEpisode[], dueMs: number, count = 1, lastDueMs = dueMs): void {
  const last = episodes.at(-1);
  // Bounded like the lag episodes: past the bound the last stretch grows instead of the list.
  if (last && (dueMs - last.toMs <= LAG_EPISODE_GAP_MS || episodes.length >= MAX_LAG_EPISODES)) {
    last.toMs = lastDueMs;
    last.count += count;
  } else {
    episodes.push({ fromMs: dueMs, toMs: lastDueMs, count });
  }
}

/** A request this far behind its schedule is not sent: the loop skips ahead and says how many it skipped, rather than chase a schedule it cannot keep. */
const SKIP_BEHIND_MS = 1000;

/** A stretch of requests that started more than `LAG_EPISODE_MS` after they were due. */
export interface LagEpisode {
  /** Due time of the first and the last late request of the stretch, ms since the start. */
  fromMs: number;
  toMs: number;
  maxLagMs: number;
}

/** A request this late is part of an episode; two late requests this close in due time share one. */
export const LAG_EPISODE_MS = 50;
const LAG_EPISODE_GAP_MS = 1000;
/** Beyond this many, the closest episodes are merged: a machine behind all the time is one long episode, not a list. */
const MAX_LAG_EPISODES = 200;

/** Adds one late request to the episodes (pure apart from the array it grows). */
export function noteLag(episodes: LagEpisode[], dueMs: number, lagMs: number): void {
  const last = episodes.at(-1);
  if (last && dueMs - last.toMs <= LAG_EPISODE_GAP_MS) {
    last.toMs = dueMs;
    last.maxLagMs = Math.max(last.maxLagMs, lagMs);
    return;
  }
  if (episodes.length >= MAX_LAG_EPISODES) {
    // Merge the two neighbours closest in time, keeping the list bounded.
    let closest = 0;
    for (let i = 1; i < episodes.length - 1; i++) {
      if (episodes[i + 1]!.fromMs - episodes[i]!.toMs < episodes[closest + 1]!.fromMs - episodes[closest]!.toMs) closest = i;
    }
    const [a, b] = [episodes[closest]!, episodes[closest + 1]!];
    episodes.splice(closest, 2, { fromMs: a.fromMs, toMs: b.toMs, maxLagMs: Math.max(a.maxLagMs, b.maxLagMs) });
  }
  episodes.push({ fromMs: dueMs, toMs: dueMs, maxLagMs: lagMs });
}

/** One connection at a time, requests after one another: a Client of undici's, or a kept connection of zonelab's own. */
interface Lane {
  /** Requests sent on this lane and not yet answered. */
  busy: number;
  /** One GET; never rejects. */
  get(planned: PlannedRequest): Promise<{ answer: ZoneAnswer | null; error: unknown; reused: boolean }>;
  destroy(): Promise<void>;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | null {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

/**
 * Sends the requests and reports each attempt. Open loop: request k is due at k/rate s
 * and starts then whatever happened to earlier ones; its latency counts from when it was
 * due, so a stall of the target shows up as latency instead of as fewer requests.
 */
export async function runLoad(options: LoadOptions): Promise<LoadOutcome> {
  if (options.keepalive) return sendLoad(options);
  withoutStackTraces.runs++;
  if (withoutStackTraces.runs === 1) {
    withoutStackTraces.limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
  }
  try {
    return await sendLoad(options);
  } finally {
    withoutStackTraces.runs--;
    if (withoutStackTraces.runs === 0) Error.stackTraceLimit = withoutStackTraces.limit;
  }
}

/**
 * undici makes two Errors, each with its stack trace, for every connection it closes after
 * an answer (`reset`, a new connection per request, which is how https and redirects are
 * sent without keep-alive): measured, a sixth of the client's time and a quarter of its
 * rate; a refused connect makes one too, whatever the transport. Nothing reads those
 * stacks, and zonelab's messages never show one, so stack traces are off while a load
 * without keep-alive runs (counted, for loads that overlap), and back as they were after.
 */
const withoutStackTraces = { runs: 0, limit: Error.stackTraceLimit };

async function sendLoad(options: LoadOptions): Promise<LoadOutcome> {
  const common = { headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, connect: { timeout: options.timeoutMs } };
  // Each lane is one connection at a time (no pipelining), so whether an answer came on a
  // new connection is known exactly. With keep-alive the lanes keep their
  // connections; without it every request closes its connection after the answer
  // (`reset`), as the course client and a network load balancer see it. An open loop
  // without keep-alive must never make a request wait for a free connection, so it gets an
  // Agent that opens as many as the schedule needs.
  const lanes: Lane[] = [];
  // Plain http without redirects, the experiment's default, needs none of undici: without
  // keep-alive each request is a socket of its own, at about 60% of the CPU undici takes
  // (see get-on-new-connection.ts); with it each lane is a connection of zonelab's own
  // (see keep-alive-connection.ts).
  const ownTransport = !options.follow && options.origin.startsWith('http:');
  const newConnections: NewConnectionGets | null = ownTransport && !options.keepalive ? createNewConnectionGets(options.origin, options.timeoutMs) : null;
  const laneCount = newConnections ? 0 : options.keepalive ? options.connections : options.mode.kind === 'closed' ? options.mode.concurrency : 0;
  for (let i = 0; i < laneCount; i++) lanes.push(ownTransport ? keptLane(options) : undiciLane(new Client(options.origin, { ...common, pipelining: 1, keepAliveTimeout: 30_000 }), options));
  if (laneCount === 0 && !newConnections) lanes.push(undiciLane(new Agent({ ...common, pipelining: 1 }), options));
  const start = options.epoch ?? performance.now();
  const now = () => performance.now() - start;
  let lastAnswer = 0;

  let cancelled = false;
  async function attempt(seq: number, attemptNo: number, planned: PlannedRequest, sentAt: number, lane: Lane | null): Promise<RequestResult> {
    // Timeouts are the transport's own (connect, then the response's start, then each pause
    // in its body): no timer or abort signal of ours per request, which at tens of thousands
    // of requests a second is most of the client's own cost.
    const { answer, error, reused } = lane
      ? await lane.get(planned)
      : await newConnections!.get(planned.path, planned.headers).then(
          (answer) => ({ answer, error: null, reused: false }),
          (error: unknown) => ({ answer: null, error, reused: false }),
        );
    const ended = now();
    lastAnswer = Math.max(lastAnswer, ended);
    // Fields in the order of the record's definition, for people reading the file.
    return {
      seq,
      sentAt: Math.round(sentAt * 1000) / 1000,
      latencyMs: Math.round((ended - sentAt) * 1000) / 1000,
      status: answer?.status ?? null,
      zone: answer?.zone ?? null,
      instance: answer?.instance ?? null,
      error: answer ? null : errorCodeOf(error, cancelled),
      connection: reused ? 'reused' : 'new',
      attempt: attemptNo,
    };
  }

  // The least busy lane: a request never queues behind another while a connection idles.
  function freeLane(): Lane | null {
    if (lanes.length === 0) return null;
    let best = lanes[0]!;
    for (const lane of lanes) {
      if (lane.busy === 0) return lane;
      if (lane.busy < best.busy) best = lane;
    }
    return best;
  }

  let sent = 0;
  async function send(seq: number, dueAt: number | null): Promise<void> {
    const planned = options.next();
    for (let attemptNo = 1; ; attemptNo++) {
      const sentAt = attemptNo === 1 && dueAt !== null ? dueAt : now();
      const lane = freeLane();
      if (lane) lane.busy++;
      options.onSend?.(seq, sentAt);
      const record = await attempt(seq, attemptNo, planned, sentAt, lane);
      if (lane) lane.busy--;
      const retry = record.error !== null && CONNECTION_FAILURES.has(record.error) && attemptNo <= options.retries && !cancelled;
      options.onResult(record, !retry);
      if (!retry) return;
    }
  }

  const durationMs = options.durationMs ?? Number.POSITIVE_INFINITY;
  const maxRequests = options.requests ?? Number.POSITIVE_INFINITY;
  const more = () => !options.signal.aborted && sent < maxRequests && now() < durationMs;
  const inFlight = new Set<Promise<void>>();
  const track = (promise: Promise<void>) => {
    inFlight.add(promise);
    promise.finally(() => inFlight.delete(promise));
  };

  let maxLagMs = 0;
  const lagEpisodes: LagEpisode[] = [];
  let unsent = 0;
  const unsentEpisodes: UnsentEpisode[] = [];
  if (options.mode.kind === 'open') {
    const intervalMs = 1000 / options.mode.rate;
    // What the schedule can need in flight is the rate times the timeout; twice that, no
    // fewer than 64 and no more than MAX_IN_FLIGHT (each is a socket, a file descriptor), is
    // the bound past which a request is not sent rather than queued.
    // A request with retries can stay in flight for each of its attempts' timeouts.
    const maxInFlight = options.maxInFlight ?? Math.min(MAX_IN_FLIGHT, Math.max(64, 2 * Math.ceil((options.mode.rate * options.timeoutMs * (options.retries + 1)) / 1000)));
    // The schedule's slots: a request not sent leaves its slot, so `sent` stays the count.
    let slot = 0;
    let turnStarted = now();
    while (!options.signal.aborted && sent < maxRequests) {
      const due = slot * intervalMs;
      if (due >= durationMs) break;
      const wait = due - now();
      if (wait > 0) {
        await sleep(wait, undefined, { signal: options.signal }).catch(() => {});
        turnStarted = now();
        continue;
      }
      // Behind its schedule this loop would send without ever awaiting, and the process
      // would answer nothing, a Ctrl-C included: it yields every few milliseconds.
      if (now() - turnStarted > YIELD_EVERY_MS) {
        await yieldTurn();
        turnStarted = now();
        continue;
      }
      const behindMs = now() - due;
      if (behindMs > SKIP_BEHIND_MS) {
        // Never past the run's end: a stall at its close skips only what was still due in it.
        const skipped = Math.min(Math.floor((behindMs - SKIP_BEHIND_MS) / intervalMs) + 1, Math.ceil(durationMs / intervalMs) - slot);
        unsent += skipped;
        noteUnsent(unsentEpisodes, due, skipped, due + (skipped - 1) * intervalMs);
        slot += skipped;
        continue;
      }
      slot++;
      if (inFlight.size >= maxInFlight) {
        unsent++;
        noteUnsent(unsentEpisodes, due);
        continue;
      }
      // A request starts late when this loop could not keep up (a busy machine): the
      // records keep its due time, so the lag is reported instead.
      const lagMs = now() - due;
      maxLagMs = Math.max(maxLagMs, lagMs);
      if (lagMs > LAG_EPISODE_MS) noteLag(lagEpisodes, due, Math.round(lagMs * 10) / 10);
      track(send(sent++, due));
    }
  } else {
    const worker = async () => {
      while (more()) await send(sent++, null);
    };
    track(Promise.all(Array.from({ length: options.mode.concurrency }, worker)).then(() => {}));
  }

  // Stopped: let what is in flight finish for a while, then cut it off.
  const everything = Promise.all([...inFlight]);
  if (options.signal.aborted) {
    const grace = sleep(options.graceMs ?? 2000, undefined, { ref: false });
    await Promise.race([everything, grace]);
    // Destroying the dispatchers fails what is still in flight; those attempts are CANCELLED.
    cancelled = true;
    newConnections?.destroy();
    await Promise.all(lanes.map((lane) => lane.destroy()));
  }
  await everything;
  await Promise.all(lanes.map((lane) => lane.destroy()));
  return { sent, elapsedMs: lastAnswer, interrupted: options.signal.aborted, maxLagMs: Math.round(maxLagMs * 10) / 10, lagEpisodes, unsent, unsentEpisodes };
}

/** A lane on a Client of undici's (https, redirects) or, one request per connection, its Agent. */
function undiciLane(transport: Client | Agent, options: LoadOptions): Lane {
  // Connections opened, and how many of them the answers so far have seen: an answer with
  // none new since the last came on a reused connection. (The composed dispatcher does not
  // pass the transport's events on.)
  let connects = 0;
  let seenConnects = 0;
  transport.on('connect', () => {
    connects++;
  });
  const dispatcher = options.follow ? transport.compose(interceptors.redirect({ maxRedirections: 5 })) : transport;
  return {
    busy: 0,
    async get(planned) {
      const result = await getOnce(dispatcher, { origin: options.origin, path: planned.path, headers: planned.headers, reset: !options.keepalive }).then(
        (response) => ({ answer: { status: response.status, zone: header(response.headers, 'x-zone'), instance: header(response.headers, 'x-instance') }, error: null }),
        (error: unknown) => ({ answer: null, error }),
      );
      const reused = options.keepalive && connects === seenConnects;
      seenConnects = connects;
      return { ...result, reused };
    },
    destroy: () => dispatcher.destroy().catch(() => {}),
  };
}

/** A lane on a kept connection of zonelab's own. */
function keptLane(options: LoadOptions): Lane {
  const connection = createKeepAliveConnection(options.origin, options.timeoutMs);
  return {
    busy: 0,
    get: (planned) => connection.get(planned.path, planned.headers),
    destroy: async () => connection.destroy(),
  };
}
