import type { FailoverMetrics } from './metrics.js';

/** Lag this close to the fault or the return touches what is measured there. */
const NEAR_MS = 1000;

export interface LagVerdict {
  /** Lag that made a measure less exact: said above the answers. */
  warnings: string[];
  /** Lag far from anything measured (a start-up hiccup): said, but not as a warning. */
  notes: string[];
}

interface Window {
  name: string;
  fromMs: number;
  toMs: number;
  /** What a late request there makes less exact. */
  touches: string;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/**
 * Where the load generator fell behind its schedule, and whether that touched a measure.
 * A request that starts late is recorded at its due time, so a time measured from it is off
 * by at most its lag; only lag near the fault (until the reroute) or near the return
 * matters to the measures. Pure.
 */
export function assessLag(metrics: FailoverMetrics): LagVerdict {
  const episodes = metrics.loadBehind ?? [];
  if (metrics.loadBehindMs === null) return { warnings: [], notes: [] };
  // A run recorded before the episodes were kept says only how much, not when.
  if (episodes.length === 0 || episodes.some((episode) => episode.fromMs === null || episode.toMs === null)) {
    return {
      warnings: [
        `The load generator fell behind its schedule by up to ${metrics.loadBehindMs} ms (a busy machine); when is not recorded: times measured from requests sent then are that much less exact.`,
      ],
      notes: [],
    };
  }
  const end = metrics.interruptedAt ?? Number.POSITIVE_INFINITY;
  const windows: Window[] = [];
  if (metrics.faultAt !== null) {
    const rerouted = metrics.rerouted && metrics.timeToRerouteMs !== null ? metrics.faultAt + metrics.timeToRerouteMs : (metrics.restartAt ?? end);
    windows.push({ name: 'the fault', fromMs: metrics.faultAt - NEAR_MS, toMs: rerouted + NEAR_MS, touches: 'the time to reroute and the count of failed requests' });
  }
  if (metrics.restartAt !== null) {
    const returned = metrics.returned && metrics.timeToReturnMs !== null ? metrics.restartAt + metrics.timeToReturnMs : end;
    windows.push({ name: 'the return', fromMs: metrics.restartAt - NEAR_MS, toMs: returned + NEAR_MS, touches: 'the time to return' });
  }
  const timed = episodes as { fromMs: number; toMs: number; maxLagMs: number }[];
  const warnings: string[] = [];
  const near = new Set<(typeof timed)[number]>();
  for (const window of windows) {
    const inside = timed.filter((episode) => episode.toMs >= window.fromMs && episode.fromMs <= window.toMs);
    if (inside.length === 0) continue;
    for (const episode of inside) near.add(episode);
    const worst = Math.max(...inside.map((episode) => episode.maxLagMs));
    warnings.push(
      `The load generator fell behind its schedule by up to ${worst} ms around ${window.name} (requests due ${spans(inside)}): ${window.touches} ${window.touches.includes(' and ') ? 'are' : 'is'} up to ${worst} ms less exact (a busy machine).`,
    );
  }
  const far = timed.filter((episode) => !near.has(episode));
  const notes =
    far.length === 0
      ? []
      : [
          `The load generator fell behind its schedule by up to ${Math.max(...far.map((episode) => episode.maxLagMs))} ms at ${spans(far)}, ${warnings.length === 0 ? 'far from the fault and the return: no measure is affected' : 'away from the measures'}.`,
        ];
  return { warnings, notes };
}

/** `0.10–0.40 s, 12.00 s`: the episodes' due times, the first three and how many more. */
function spans(episodes: readonly { fromMs: number; toMs: number }[]): string {
  const shown = episodes.slice(0, 3).map((episode) => (episode.toMs - episode.fromMs < 10 ? s(episode.fromMs) : `${(episode.fromMs / 1000).toFixed(2)}–${s(episode.toMs)}`));
  return episodes.length > 3 ? `${shown.join(', ')} and ${episodes.length - 3} more stretches` : shown.join(', ');
}
