import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { median, sampleStats } from '../../src/failover/index.js';

describe('statistics over trials (fixed samples, seeded bootstrap)', () => {
  it('median, min, max and p90 of a fixed sample', () => {
    assert.equal(median([1, 2, 3, 4]), 2.5);
    assert.equal(median([5]), 5);
    const stats = sampleStats([1.43, 1.91, 1.12, 1.77, 1.05, 1.6, 1.31, 1.98, 1.24, 1.52])!;
    assert.deepEqual({ n: stats.n, median: stats.median, min: stats.min, max: stats.max, p90: stats.p90 }, { n: 10, median: 1.475, min: 1.05, max: 1.98, p90: 1.91 });
  });

  it('gives the same 95% interval of the median for the same trials and seed (golden), inside min…max', () => {
    const sample = [1.43, 1.91, 1.12, 1.77, 1.05, 1.6, 1.31, 1.98, 1.24, 1.52];
    const a = sampleStats(sample)!;
    assert.deepEqual(sampleStats(sample), a, 'seeded: the same every time');
    assert.deepEqual(a.ci95, [1.215, 1.77]);
    assert.ok(a.ci95[0] <= a.median && a.median <= a.ci95[1]);
    // Another seed draws other resamples: an interval of the same sample, not the same numbers.
    const [low, high] = sampleStats(sample, { seed: 2 })!.ci95;
    assert.ok(low >= a.min && high <= a.max && low <= a.median && a.median <= high, `seed 2: [${low}, ${high}]`);
    assert.ok([2, 3, 4, 5].some((seed) => sampleStats(sample, { seed })!.ci95.join() !== a.ci95.join()), 'the seed decides the draws');
    assert.deepEqual(sampleStats([2, 2, 2])!.ci95, [2, 2], 'no spread, no interval');
    assert.equal(sampleStats([]), null);
  });
});
