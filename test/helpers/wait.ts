/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Polls `get` every `intervalMs` until `accept` takes its value, and returns that value; fails after `timeoutMs`. */
export async function pollUntil<T>(get: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 5000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms; last: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Polls `get` for `durationMs` and fails at the first value `holds` rejects; returns the last value. */
export async function holdsFor<T>(get: () => Promise<T>, holds: (value: T) => boolean, durationMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + durationMs;
  for (;;) {
    const value = await get();
    if (!holds(value)) throw new Error(`stopped holding: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    if (Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
