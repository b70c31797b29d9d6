/**
 * Nearest-rank percentile of values sorted ascending (null for none): always one of the
 * values, so p99 never exceeds the maximum. Pure.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
