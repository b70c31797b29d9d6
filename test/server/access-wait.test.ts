import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { untilPermitted } from '../../src/access-wait.js';
import { ZonelabError } from '../../src/errors.js';

const refused = () => new ZonelabError('E_PERMISSION_DENIED', 'the credentials in use lack storage.objects.list on gs://b');

describe('waiting out a permission on its way (pure timing with short waits)', () => {
  it('tries again while refused, with a line each time, and returns once allowed', async () => {
    let calls = 0;
    const retries: number[] = [];
    const value = await untilPermitted(
      async () => {
        calls++;
        if (calls < 3) throw refused();
        return 'listed';
      },
      { waitMs: 10_000, firstDelayMs: 5, onRetry: (retry) => retries.push(retry.attempt) },
    );
    assert.equal(value, 'listed');
    assert.deepEqual(retries, [1, 2]);
  });

  it('any other error ends the wait at once; without a wait, the first refusal does, unchanged', async () => {
    let calls = 0;
    await assert.rejects(untilPermitted(async () => { calls++; throw new ZonelabError('E_BUCKET_NOT_FOUND', 'no bucket'); }, { waitMs: 10_000, onRetry: () => {} }), /no bucket/);
    assert.equal(calls, 1);
    await assert.rejects(untilPermitted(async () => { throw refused(); }, { waitMs: 0, onRetry: () => assert.fail('no retry') }), /^ZonelabError: the credentials in use lack storage\.objects\.list on gs:\/\/b$/);
  });

  it('stopped while waiting: no further call, and the refusal as it was', async () => {
    const stop = new AbortController();
    let calls = 0;
    const waiting = untilPermitted(async () => { calls++; throw refused(); }, { waitMs: 60_000, firstDelayMs: 30_000, signal: stop.signal, onRetry: () => stop.abort() });
    await assert.rejects(waiting, /lack storage\.objects\.list on gs:\/\/b$/);
    assert.equal(calls, 1);
  });

  it('checks that share one wait share its deadline', async () => {
    const startedAt = performance.now() - 10_000;
    // The wait began 10 s ago and lasts 10 s: nothing is left, so the first refusal ends it, saying how long it was refused.
    await assert.rejects(untilPermitted(async () => { throw refused(); }, { waitMs: 10_000, startedAt, onRetry: () => assert.fail('no time left to retry') }), /\(still refused after 10 s and 1 try\)$/);
  });
});
