import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { percentile } from '../records/index.js';

/** A measure over trials: its spread, and how sure the median is. */
export interface SampleStats {
  n: number;
  median: number;
  min: number;
  max: number;
  p90: number;
  /** 95% confidence interval of the median: percentile bootstrap, `resamples` draws, seeded. */
  ci95: [number, number];
}

export const BOOTSTRAP_RESAMPLES = 2000;
export const BOOTSTRAP_SEED = 1;

/** The median (the mean of the two middle values for an even count) of sorted values. Pure. */
export function median(sorted: readonly number[]): number {
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Kept to the microsecond, which no report shows: each figure is rounded once, where it is
 * shown, from this value (rounding here to the millisecond and again to 10 ms when shown
 * turned 2.2048 into 2.205 and then 2.21, beside a trial shown as 2.20).
 */
function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/**
 * Median, min, max, p90 (nearest rank) and a 95% percentile-bootstrap confidence interval
 * of the median: `resamples` resamples with replacement drawn by a seeded generator, so the
 * same trials always give the same interval. Null for no values. Pure.
 */
export function sampleStats(values: readonly number[], options: { seed?: number; resamples?: number } = {}): SampleStats | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const rng = xoroshiro128plus(options.seed ?? BOOTSTRAP_SEED);
  const medians = new Float64Array(resamples);
  const draw = new Array<number>(sorted.length);
  for (let r = 0; r < resamples; r++) {
    for (let k = 0; k < sorted.length; k++) {
      draw[k] = sorted[uniformInt(rng, 0, sorted.length - 1)]!;
    }
    medians[r] = median(draw.sort((a, b) => a - b));
  }
  medians.sort();
  return {
    n: sorted.length,
    median: round(median(sorted)),
    min: round(sorted[0]!),
    max: round(sorted.at(-1)!),
    p90: round(percentile(sorted, 90)!),
    ci95: [round(percentile(medians, 2.5)!), round(percentile(medians, 97.5)!)],
  };
}
