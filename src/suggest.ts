/** Edit distance (insertions, deletions, substitutions) between two strings. Pure. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The name a typo most likely meant (a third of its letters wrong at most), or the one name
 * it is the start of (`gcp` → `gcp-default`), or null. Pure.
 */
export function closestName(typed: string, names: readonly string[]): string | null {
  const lower = typed.toLowerCase();
  const starting = lower.length >= 2 ? names.filter((name) => name.toLowerCase().startsWith(lower) && name.toLowerCase() !== lower) : [];
  if (starting.length === 1) return starting[0]!;
  let best: { name: string; distance: number } | null = null;
  for (const name of names) {
    const distance = editDistance(typed.toLowerCase(), name.toLowerCase());
    if (distance <= Math.max(1, Math.floor(name.length / 3)) && (best === null || distance < best.distance)) best = { name, distance };
  }
  return best?.name ?? null;
}

/** ` (did you mean us-east1-b?)`, or '' when nothing is close. */
export function didYouMean(typed: string, names: readonly string[]): string {
  const name = closestName(typed, names);
  return name ? ` (did you mean ${name}?)` : '';
}
