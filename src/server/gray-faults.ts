import { type Fault, formatFault } from '../records/index.js';
import type { ResponseInfo } from './rules.js';

/** The faults a server injects into its own answers (the lab's gray failures). */
export type GrayFault = Extract<Fault, { kind: 'latency' | 'errors' | 'health-fail' | 'flap' }>;

export function isGrayFault(fault: Fault): fault is GrayFault {
  return fault.kind === 'latency' || fault.kind === 'errors' || fault.kind === 'health-fail' || fault.kind === 'flap';
}

/** What the injected fault does to one request: how long to wait first, and the answer to give instead. */
export interface GrayVerdict {
  delayMs: number;
  replace: ResponseInfo | null;
}

const NO_EFFECT: GrayVerdict = { delayMs: 0, replace: null };

function plain(status: number, text: string): ResponseInfo {
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }, body: `${text}\n` };
}

/**
 * The one gray fault a server carries, and what it does to each request. Pure apart from
 * the clock it is given: `errors:<f>` fails exactly ⌊n·f⌋ of the first n object requests
 * (spread evenly, so a short run shows the stated fraction), `flap:<p>` fails /healthz in
 * the first period after the fault, passes it in the next, and so on.
 */
export class GrayFaults {
  #fault: GrayFault | null = null;
  #since = 0;
  #objects = 0;
  #failed = 0;

  set(fault: GrayFault, now: number): void {
    this.#fault = fault;
    this.#since = now;
    this.#objects = 0;
    this.#failed = 0;
  }

  clear(): void {
    this.#fault = null;
  }

  describe(): string | null {
    return this.#fault ? formatFault(this.#fault) : null;
  }

  /** The verdict for a request; `health` says whether it is the health check. */
  verdict(health: boolean, now: number): GrayVerdict {
    const fault = this.#fault;
    if (!fault) return NO_EFFECT;
    switch (fault.kind) {
      case 'latency':
        return { delayMs: fault.ms, replace: null };
      case 'health-fail':
        return health ? { delayMs: 0, replace: plain(503, 'unhealthy (fault injected: health-fail)') } : NO_EFFECT;
      case 'flap': {
        if (!health) return NO_EFFECT;
        const failing = Math.floor((now - this.#since) / fault.periodMs) % 2 === 0;
        return failing ? { delayMs: 0, replace: plain(503, `unhealthy (fault injected: ${formatFault(fault)})`) } : NO_EFFECT;
      }
      case 'errors': {
        if (health) return NO_EFFECT;
        this.#objects++;
        if (Math.floor(this.#objects * fault.fraction) <= this.#failed) return NO_EFFECT;
        this.#failed++;
        return { delayMs: 0, replace: plain(500, `Internal Server Error (fault injected: ${formatFault(fault)})`) };
      }
    }
  }
}
