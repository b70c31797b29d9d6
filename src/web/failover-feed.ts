import type { ExperimentWatcher } from '../failover/index.js';
import { stateInWords } from '../lab/index.js';
import type { LoadBalancerSpec } from '../lb/index.js';
import { failed, type RunEvent, type RunSetup } from '../records/index.js';
import { backendState } from './lab-feed.js';
import { FAILED_SERIES, type LiveBackend, LiveFeed, type LiveMark } from './live-feed.js';

const PHASES = new Set(['warm-up', 'outage', 'return']);

/** The mark an event puts on the chart, or null. `started`: the balancer's first report is where it starts, not a change. Pure. */
export function markOf(event: RunEvent, started: boolean): { kind: LiveMark['kind']; label: string } | null {
  switch (event.kind) {
    case 'fault':
      // A lab's fault is a word (kill); a target's is a whole command line: too long for a label.
      return { kind: 'fault', label: event.detail.length <= 20 ? `fault ${event.detail} ${event.target}` : `fault ${event.target}` };
    case 'recover':
      return { kind: 'restart', label: `restart ${event.target}` };
    case 'server-ready':
      return { kind: 'ready', label: `ready ${event.target}` };
    case 'lb-state':
      return started && (event.detail === 'DOWN' || event.detail === 'UP') ? { kind: 'lb', label: `LB ${event.detail} ${event.target}` } : null;
    default:
      return null;
  }
}

interface Backend {
  name: string;
  zone: string;
  status: string | null;
  process: string;
}

/**
 * The live page of a failover run: the answers the run's own client got (by when each
 * request was due, per zone, failures apart), the load balancer's state of each backend, the run's marks and
 * phases, and its running measurements. Returns the feed and the watcher to hand to
 * `runExperiment`.
 */
export function createFailoverFeed(options: { title: string; zones: string[]; spec: LoadBalancerSpec | null }): { feed: LiveFeed; watcher: ExperimentWatcher } {
  let clock: () => number = () => 0;
  const feed = new LiveFeed({ title: options.title, view: 'failover', zones: options.zones, now: () => clock() });
  const backends = new Map<string, Backend>();
  let faultZone = '';
  const lbStarted = new Set<string>();

  const publish = () => {
    const rows: LiveBackend[] = [...backends.values()].map((backend) => ({
      name: backend.name,
      zone: backend.zone,
      state: backendState(backend.status),
      words: options.spec ? stateInWords(backend.status, options.spec) : (backend.status ?? 'not asked (a target: only its answers are seen)'),
      process: backend.process,
    }));
    feed.backends(rows);
  };

  const setProcess = (zone: string, process: string) => {
    for (const backend of backends.values()) if (backend.zone === zone) backend.process = process;
    publish();
  };

  const watcher: ExperimentWatcher = {
    start(setup: RunSetup, now) {
      clock = now;
      faultZone = setup.faultZone;
      for (const backend of setup.backends ?? []) backends.set(backend.name, { name: backend.name, zone: backend.zone, status: null, process: 'running' });
      publish();
    },
    record(record) {
      // Counted when it was due to be sent, as the report's timeline counts it.
      feed.count(failed(record) ? FAILED_SERIES : (record.zone ?? 'unknown'), 1, record.sentAt);
    },
    event(event) {
      if (event.kind === 'phase' && PHASES.has(event.target)) feed.phase(event.target, event.at);
      const mark = markOf(event, lbStarted.has(event.target));
      if (mark) feed.mark(mark.kind, mark.label, event.at);
      if (event.kind === 'lb-state') {
        lbStarted.add(event.target);
        const backend = backends.get(event.target);
        if (backend) {
          backend.status = event.detail;
          publish();
        }
      } else if (event.kind === 'fault') {
        setProcess(faultZone, `fault: ${event.detail}`);
      } else if (event.kind === 'recover') {
        setProcess(faultZone, 'healing');
      } else if (event.kind === 'server-ready') {
        setProcess(faultZone, 'running (answers its health check)');
      }
    },
    status(status) {
      feed.status(status);
    },
  };
  return { feed, watcher };
}
