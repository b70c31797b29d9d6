import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type LagEpisode, noteLag } from '../../src/client/index.js';

describe('lag episodes of the open loop (pure)', () => {
  it('joins late requests less than a second apart into one stretch, and starts another after a pause', () => {
    const episodes: LagEpisode[] = [];
    for (const [due, lag] of [[100, 60], [110, 170], [900, 55], [5000, 80]] as const) noteLag(episodes, due, lag);
    assert.deepEqual(episodes, [
      { fromMs: 100, toMs: 900, maxLagMs: 170 },
      { fromMs: 5000, toMs: 5000, maxLagMs: 80 },
    ]);
  });

  it('stays bounded on a machine that is behind now and then for hours, keeping the span and the worst lag', () => {
    const episodes: LagEpisode[] = [];
    for (let i = 0; i < 5000; i++) noteLag(episodes, i * 2000, i === 1234 ? 900 : 60);
    assert.ok(episodes.length <= 200, `${episodes.length} episodes`);
    assert.equal(episodes[0]!.fromMs, 0);
    assert.equal(episodes.at(-1)!.toMs, 4999 * 2000);
    assert.equal(Math.max(...episodes.map((episode) => episode.maxLagMs)), 900);
    for (const [i, episode] of episodes.entries()) if (i > 0) assert.ok(episode.fromMs > episodes[i - 1]!.toMs, 'in order, not overlapping');
  });
});
