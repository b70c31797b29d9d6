import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { freePort } from '../helpers/free-port.js';
import { alive, labPids, skipWithoutHaproxy, zonelab, endLabsUnder } from '../helpers/lab-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

const ROUNDS = 6;
const SEED = Number(process.env.ZONELAB_FAULT_SEED ?? 8);

/** A seeded shuffle, so a failing order can be replayed with ZONELAB_FAULT_SEED. */
function shuffled<T>(items: T[], next: (max: number) => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = next(i);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('supervisor faults: kill -9 of a detached lab’s processes in any order, then lab down', { skip: skipWithoutHaproxy }, () => {
  let parent: string;
  let bucket: TempBucket;
  const dirs: string[] = [];

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-faults-'));
    bucket = await makeTempBucket(10);
  });
  after(async () => {
    try {
      await endLabsUnder(parent, dirs);
    } finally {
      await bucket.remove();
      await rm(parent, { recursive: true, force: true });
    }
  });

  it(`leaves nothing running, for ${ROUNDS} random orders and subsets (seed ${SEED})`, async (t) => {
    const random = xoroshiro128plus(SEED);
    const next = (max: number) => uniformInt(random, 0, max);
    for (let round = 1; round <= ROUNDS; round++) {
      const dir = join(parent, `lab-${round}`);
      dirs.push(dir);
      const up = await zonelab(
        'lab', 'up', '--detach', '--dir', dir, '--listen', `127.0.0.1:${await freePort()}`, '--port', String(await freePort('127.0.1.1')),
        '--bucket', bucket.root, '--profile', 'fast', '--instances-per-zone', '2',
      );
      assert.equal(up.code, 0, up.stderr);
      const pids = await labPids(dir);
      assert.equal(pids.length, 6, 'HAProxy, the audit and four servers');
      // Kill a random non-empty subset (every process in the last round) in a random order.
      const count = round === ROUNDS ? pids.length : 1 + next(pids.length - 1);
      const victims = shuffled(pids, next).slice(0, count);
      for (const pid of victims) process.kill(pid, 'SIGKILL');
      await waitFor(() => victims.every((pid) => !alive(pid)), 5000, 'the killed processes to be gone');
      const down = await zonelab('lab', 'down', '--dir', dir);
      assert.equal(down.code, 0, `round ${round}: ${down.stderr}`);
      assert.deepEqual(pids.filter(alive), [], `round ${round}: alive after lab down (killed first: ${victims.join(', ')})`);
      t.diagnostic(`round ${round}: killed ${victims.length} of ${pids.length} with SIGKILL, then lab down: nothing left`);
    }
  });
});
