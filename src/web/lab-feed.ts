import { ZonelabError } from '../errors.js';
import { type BackendStatus, type Lab, type LabObservation, processInWords, stateInWords } from '../lab/index.js';
import type { LoadBalancerSpec } from '../lb/index.js';
import { formatFault, parseFault } from '../records/index.js';
import { FAILED_SERIES, type LiveBackend, type LiveControls, LiveFeed } from './live-feed.js';
import type { LiveControlActions } from './live-server.js';

/** The load balancer's state of a backend as the page colours it. Pure. */
export function backendState(status: string | null): LiveBackend['state'] {
  if (status === null) return 'unknown';
  if (status === 'UP' || status === 'NOLB') return 'serving';
  if (status.startsWith('UP ')) return 'failing';
  if (status.startsWith('DOWN ')) return 'coming-back';
  return 'down';
}

/** The backends as the page shows them. Pure. */
export function liveBackends(rows: readonly BackendStatus[], spec: LoadBalancerSpec, noView = false): LiveBackend[] {
  return rows.map((row) => ({
    name: row.server.name,
    zone: row.server.zone,
    state: backendState(row.lb?.status ?? null),
    words: noView ? 'the load balancer keeps no view of its backends' : stateInWords(row.lb?.status ?? null, spec),
    process: processInWords(row),
  }));
}

/** The faults the lab page offers (a sample value for those that take one). */
export const PAGE_FAULTS = ['kill', 'term', 'stop', 'partition', 'reset', 'latency:500', 'errors:0.5', 'health-fail', 'flap:2s'];

/** A feed for a lab (made before it starts, so a busy page port stops nothing): a sliding two-minute window, with controls. */
export function createLabFeed(options: { zones: string[]; lbUrl: string; dirFlag: string | null; lb?: { name: string; hasCounters: boolean } }): LiveFeed {
  const { zones } = options;
  const controls: LiveControls = { zones, faults: PAGE_FAULTS, command: `zonelab lab${options.dirFlag ? ` --dir ${options.dirFlag}` : ''}` };
  // The requests drawn are the balancer's own counts: say so when it keeps none.
  const uncounted = options.lb && !options.lb.hasCounters ? ` (${options.lb.name} counts no connections: no requests are drawn; failover --web draws the client's)` : '';
  return new LiveFeed({ title: `zonelab lab: ${zones.join(', ')} behind ${options.lbUrl}${uncounted}`, view: 'lab', zones, windowSec: 120, controls });
}

/**
 * What each look at the lab (`watchLab`'s observations) puts on the page: the balancer's own
 * counts per zone, the backends in words, and a mark for each process change and each
 * time the balancer takes a backend out of rotation or back in.
 */
export function feedFromLab(feed: LiveFeed, spec: LoadBalancerSpec, noView = false): (observation: LabObservation) => void {
  return (observation) => {
    for (const [zone, n] of observation.served) feed.count(zone, n);
    feed.count(FAILED_SERIES, [...observation.failed.values()].reduce((sum, n) => sum + n, 0));
    feed.backends(liveBackends(observation.rows, spec, noView));
    for (const change of observation.changes) {
      const who = change.server.name;
      if (change.kind === 'process') {
        // One action, one mark: "stopped" becoming "stopped (kill)" once the fault is on
        // record, or "stopped (kill)" becoming "stopped" as a start clears it, is the same state.
        if (processBase(change.from) === processBase(change.to)) continue;
        const restarted = processBase(change.to) === 'running';
        feed.mark(restarted ? 'restart' : 'fault', `${who} ${change.to}`);
      } else if ((change.to === 'DOWN' || change.to === 'UP') && change.from !== null) {
        feed.mark('lb', `LB ${change.to} ${who}`);
      }
    }
  };
}

/** `stopped (kill)` → `stopped`: the process's state without the detail of how it got there. Pure. */
export function processBase(words: string | null): string | null {
  return words === null ? null : (words.split(' (')[0] ?? words);
}

function ready(lab: Lab | null): Lab {
  if (!lab) throw new ZonelabError('E_LAB_STARTING', 'the lab is still starting: try again in a moment');
  return lab;
}

/** The lab page's buttons: `lab fault <zone> <fault>` and `lab heal <zone>`, once `current()` has a lab. */
export function labControls(current: () => Lab | null): LiveControlActions {
  return {
    async fault(zone, text) {
      const lab = ready(current());
      // A bad one throws E_BAD_FAULT, which the page gets as a 400 with the reason.
      const fault = parseFault(text);
      const faulted = await lab.fault(zone, fault);
      return `${formatFault(fault)} on ${faulted.map((s) => s.name).join(', ')}`;
    },
    async heal(zone) {
      const lab = ready(current());
      const healed = await lab.heal(zone);
      return `${healed.map((s) => s.name).join(', ')} healed, answering ${lab.state.spec.requestPath} again`;
    },
  };
}
