import { spawnSync } from 'node:child_process';
import { ZonelabError } from './errors.js';

/**
 * Runs `nft` with `args` (and `input` on its standard input, for `nft -f -`: one file is one
 * transaction, applied whole or not at all). Throws only when nft cannot run at all.
 */
export function runNft(args: string[], input?: string): { ok: boolean; output: string } {
  const result = spawnSync('nft', args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ZonelabError(
      missing ? 'E_NO_NFTABLES' : 'E_NETWORK_FAULT',
      missing ? 'nftables is not installed: install it with "apt-get install -y nftables"' : `cannot run nft: ${result.error.message}`,
    );
  }
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

/** Whether this process can change nftables rules: root, and nft installed. */
export function canUseNft(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    return runNft(['--version']).ok;
  } catch {
    return false;
  }
}
