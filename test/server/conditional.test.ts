import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNotModified } from '../../src/server/index.js';

const meta = { size: 10, etag: '"abc"', lastModified: new Date('2026-11-25T08:00:00.600Z') };

describe('isNotModified', () => {
  it('matches If-None-Match, weakly and in lists', () => {
    assert.equal(isNotModified({ ifNoneMatch: '"abc"' }, meta), true);
    assert.equal(isNotModified({ ifNoneMatch: 'W/"abc"' }, meta), true);
    assert.equal(isNotModified({ ifNoneMatch: '"x", "abc"' }, meta), true);
    assert.equal(isNotModified({ ifNoneMatch: '*' }, meta), true);
    assert.equal(isNotModified({ ifNoneMatch: '"abd"' }, meta), false);
  });

  it('lets If-None-Match decide alone when both are sent', () => {
    assert.equal(isNotModified({ ifNoneMatch: '"other"', ifModifiedSince: 'Wed, 25 Nov 2026 09:00:00 GMT' }, meta), false);
  });

  it('compares If-Modified-Since at one-second resolution', () => {
    assert.equal(isNotModified({ ifModifiedSince: 'Wed, 25 Nov 2026 08:00:00 GMT' }, meta), true);
    assert.equal(isNotModified({ ifModifiedSince: 'Wed, 25 Nov 2026 07:59:59 GMT' }, meta), false);
    assert.equal(isNotModified({ ifModifiedSince: 'not a date' }, meta), false);
  });

  it('is false without conditional headers', () => assert.equal(isNotModified({}, meta), false));
});
