import { totalmem } from 'node:os';

/** The cache's size and how it was chosen, for the start-up line. */
export interface CacheSize {
  mb: number;
  /** `--cache-mb 64`, `an eighth of 1024 MiB of memory`, … */
  why: string;
}

/** The default cache never exceeds this, however large the machine. */
export const MAX_DEFAULT_CACHE_MB = 256;

/**
 * The memory this process may use: the machine's, or less where its cgroup limits it (a
 * systemd unit's `MemoryMax=`, a container's limit), as Node.js reads it from the
 * process's own cgroup (`process.constrainedMemory()`; without a limit it gives 0 or a
 * number past any machine's memory).
 */
export function availableMemoryBytes(constrained = process.constrainedMemory?.() ?? 0): number {
  const machine = totalmem();
  return constrained > 0 && constrained < machine ? constrained : machine;
}

/**
 * `--cache-mb`: a number is taken as given; `auto` is an eighth of the memory this process
 * may use, at most `MAX_DEFAULT_CACHE_MB`, so a 1 GB e2-micro VM (about 970 MiB the kernel
 * can use) keeps about 120 MiB for pages and the rest for the server itself, whatever a
 * client asks for.
 */
export function resolveCacheSize(flag: number | 'auto', memoryBytes = availableMemoryBytes()): CacheSize {
  if (flag !== 'auto') return { mb: flag, why: flag === 0 ? '--cache-mb 0: no cache' : `--cache-mb ${flag}` };
  const memoryMb = Math.floor(memoryBytes / (1024 * 1024));
  const eighth = Math.floor(memoryMb / 8);
  return eighth >= MAX_DEFAULT_CACHE_MB
    ? { mb: MAX_DEFAULT_CACHE_MB, why: `the most by default (an eighth of ${memoryMb} MiB of memory is more)` }
    : { mb: Math.max(1, eighth), why: `an eighth of ${memoryMb} MiB of memory` };
}
