import { didYouMean } from '../suggest.js';
import { ZonelabError } from '../errors.js';

/** What a zone can suffer; the same names on `failover --fault`, `--faults` and `lab fault`. */
export type Fault =
  | { kind: 'kill' | 'term' | 'stop' }
  | { kind: 'partition' | 'reset' }
  | { kind: 'latency'; ms: number }
  | { kind: 'errors'; fraction: number }
  | { kind: 'health-fail' }
  | { kind: 'flap'; periodMs: number };

export type FaultKind = Fault['kind'];

/** How a fault is delivered in the lab. */
export type FaultClass = 'signal' | 'network' | 'gray';

/** The forms `parseFault` reads, for help texts and errors. */
export const FAULT_FORMS = 'kill, term, stop, partition, reset, latency:<ms>, errors:<fraction>, health-fail, flap:<period>';
const FAULT_NAMES = ['kill', 'term', 'stop', 'partition', 'reset', 'latency', 'errors', 'health-fail', 'flap'];

export function faultClassOf(fault: Fault): FaultClass {
  switch (fault.kind) {
    case 'kill':
    case 'term':
    case 'stop':
      return 'signal';
    case 'partition':
    case 'reset':
      return 'network';
    default:
      return 'gray';
  }
}

function bad(text: string, why: string): ZonelabError {
  return new ZonelabError('E_BAD_FAULT', `fault "${text}" ${why}`);
}

/** `500`, `500ms`, `2s`, `1.5s`: milliseconds (a bare number is milliseconds). */
function parseMs(text: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
  if (!match) throw bad(text, `needs a duration such as 500 (ms), 500ms or 2s after the colon`);
  return Math.round(Number(match[1]) * (match[2] === 's' ? 1000 : 1));
}

/**
 * Reads a fault as users type it, case-insensitive: `kill`, `term`, `stop`, `partition`,
 * `reset`, `latency:<ms>` (1–60000), `errors:<fraction>` (0.5 or 50%), `health-fail`,
 * `flap:<period>` (100 ms–10 min, e.g. 2s).
 */
export function parseFault(text: string): Fault {
  const value = text.trim().toLowerCase();
  const [name, argument] = value.split(/:(.*)/s, 2) as [string, string | undefined];
  const needsArgument = name === 'latency' || name === 'errors' || name === 'flap';
  if (needsArgument && (argument === undefined || argument === '')) throw bad(text, `needs a value: ${name}:${name === 'latency' ? '<ms>' : name === 'errors' ? '<fraction>' : '<period>'}`);
  if (!needsArgument && argument !== undefined) throw bad(text, `takes no value after "${name}"`);
  switch (name) {
    case 'kill':
    case 'term':
    case 'stop':
    case 'partition':
    case 'reset':
    case 'health-fail':
      return { kind: name };
    case 'latency': {
      const ms = parseMs(text, argument!);
      if (ms < 1 || ms > 60_000) throw bad(text, 'needs a latency from 1 ms to 60 s');
      return { kind: 'latency', ms };
    }
    case 'errors': {
      const percent = argument!.endsWith('%');
      const number = Number(percent ? argument!.slice(0, -1) : argument);
      const fraction = percent ? number / 100 : number;
      if (argument!.trim() === '' || !Number.isFinite(fraction) || fraction <= 0 || fraction > 1) {
        throw bad(text, 'needs a fraction above 0 and at most 1, such as 0.5 or 50%');
      }
      return { kind: 'errors', fraction };
    }
    case 'flap': {
      const periodMs = parseMs(text, argument!);
      if (periodMs < 100 || periodMs > 600_000) throw bad(text, 'needs a period from 100 ms to 10 min, such as 2s');
      return { kind: 'flap', periodMs };
    }
    default:
      throw bad(text, `is not one of ${FAULT_FORMS}${didYouMean(name, FAULT_NAMES)}`);
  }
}

/** The canonical text of a fault: `parseFault(formatFault(f))` gives `f` back. */
export function formatFault(fault: Fault): string {
  switch (fault.kind) {
    case 'latency':
      return `latency:${fault.ms}`;
    case 'errors':
      return `errors:${fault.fraction}`;
    case 'flap':
      return `flap:${fault.periodMs % 1000 === 0 ? `${fault.periodMs / 1000}s` : `${fault.periodMs}ms`}`;
    default:
      return fault.kind;
  }
}

/** A few words on what the fault does, for reports and progress lines. */
export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'kill':
      return 'SIGKILL to the servers';
    case 'term':
      return 'SIGTERM to the servers (they drain)';
    case 'stop':
      return 'SIGSTOP to the servers (frozen)';
    case 'partition':
      return 'packets to and from the servers dropped';
    case 'reset':
      return 'connections to the servers refused with a TCP reset';
    case 'latency':
      return `every answer delayed by ${fault.ms} ms`;
    case 'errors':
      return `${+(fault.fraction * 100).toFixed(2)}% of object requests answered 500, /healthz still 200`;
    case 'health-fail':
      return '/healthz answers 503, everything else is served';
    case 'flap':
      return `/healthz alternates between 503 and 200 every ${formatFault(fault).slice('flap:'.length)}`;
  }
}
