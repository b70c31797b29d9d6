import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { objectTargetOf, pathOfTarget } from '../../src/server/index.js';

describe('objectTargetOf', () => {
  it('strips the bucket name when it is the first segment', () => {
    assert.deepEqual(objectTargetOf('/bucket/webdir/7.html', 'bucket'), { kind: 'key', key: 'webdir/7.html' });
  });

  it("accepts the course client's target without a leading slash", () => {
    assert.deepEqual(objectTargetOf('bucket/webdir/7.html', 'bucket'), { kind: 'key', key: 'webdir/7.html' });
  });

  it('uses the whole path when the first segment is not the bucket (-b none)', () => {
    assert.deepEqual(objectTargetOf('/webdir/7.html', 'bucket'), { kind: 'key', key: 'webdir/7.html' });
    assert.deepEqual(objectTargetOf('7.html', 'bucket'), { kind: 'key', key: '7.html' });
  });

  it('ignores the query string and reduces absolute-form targets to their path', () => {
    assert.deepEqual(objectTargetOf('/bucket/webdir/7.html?x=1#y', 'bucket'), { kind: 'key', key: 'webdir/7.html' });
    assert.deepEqual(objectTargetOf('http://example.test:8080/bucket/webdir/7.html', 'bucket'), {
      kind: 'key',
      key: 'webdir/7.html',
    });
    assert.equal(pathOfTarget('HTTP://h'), '/');
  });

  it('decodes percent-encoded names', () => {
    assert.deepEqual(objectTargetOf('/bucket/a%20b.html', 'bucket'), { kind: 'key', key: 'a b.html' });
  });

  it('names no object for the root or the bucket alone', () => {
    assert.equal(objectTargetOf('/', 'bucket').kind, 'empty');
    assert.equal(objectTargetOf('/bucket', 'bucket').kind, 'empty');
    assert.equal(objectTargetOf('', 'bucket').kind, 'empty');
  });

  const traversals = [
    '/bucket/../../etc/passwd',
    '/../etc/passwd',
    '..',
    '/bucket/webdir/..',
    '/bucket/./webdir/1.html',
    '/bucket/%2e%2e/%2e%2e/etc/passwd',
    '/bucket/%2E%2E/secret',
    '/bucket/.%2e/secret',
    '/bucket/%2e./secret',
    '/bucket/..%2fsecret',
    '/bucket/..%2Fsecret',
    '/bucket/webdir%2f..%2f..%2fsecret',
    '/bucket/..\\secret',
    '/bucket/..%5csecret',
    '/bucket/%5c..%5csecret',
    '/bucket/1.html%00.txt',
    '/bucket/%00',
    '//etc/passwd',
    '/bucket//etc/passwd',
    '/bucket/%',
    '/bucket/%zz',
    '/bucket/%c0%ae%c0%ae/secret',
    '/bucket/a%0d%0aX-Injected:1',
  ];
  for (const target of traversals) {
    it(`refuses ${JSON.stringify(target)}`, () => {
      const result = objectTargetOf(target, 'bucket');
      assert.equal(result.kind, 'bad', `${target} gave ${JSON.stringify(result)}`);
    });
  }

  it('never yields a key that leaves the bucket, whatever the encoding', () => {
    for (const target of traversals) {
      const result = objectTargetOf(target, 'bucket');
      if (result.kind === 'key') {
        assert.ok(!result.key.split('/').includes('..'), target);
        assert.ok(!result.key.startsWith('/'), target);
      }
    }
  });
});
