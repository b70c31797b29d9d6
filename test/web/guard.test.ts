import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { controlAllowed, hostAllowed, isLoopback, parseWebAddress } from '../../src/web/index.js';

describe('the live page guard', () => {
  it('lets in an IP literal or localhost with the page’s own port, nothing else (DNS rebinding)', () => {
    assert.equal(hostAllowed('127.0.0.1:8090', 8090), true);
    assert.equal(hostAllowed('localhost:8090', 8090), true);
    assert.equal(hostAllowed('[::1]:8090', 8090), true);
    assert.equal(hostAllowed('192.0.2.7:8090', 8090), true);
    assert.equal(hostAllowed('attacker.example:8090', 8090), false, 'a name that resolves to us is a rebinding page');
    assert.equal(hostAllowed('127.0.0.1:8091', 8090), false, 'another port');
    assert.equal(hostAllowed('127.0.0.1', 8090), false, 'no port');
    assert.equal(hostAllowed(undefined, 8090), false);
  });

  it('lets a control request through only from the page’s own origin with the exact token', () => {
    const token = 'x'.repeat(43);
    const ok = { host: '127.0.0.1:8090', origin: 'http://127.0.0.1:8090', token };
    assert.equal(controlAllowed(ok, token), true);
    assert.equal(controlAllowed({ ...ok, origin: 'http://evil.example' }, token), false, 'another site (CSRF)');
    assert.equal(controlAllowed({ ...ok, origin: undefined }, token), false, 'no origin');
    assert.equal(controlAllowed({ ...ok, token: undefined }, token), false, 'no token');
    assert.equal(controlAllowed({ ...ok, token: `${token}y` }, token), false, 'longer token');
    assert.equal(controlAllowed({ ...ok, token: 'y'.repeat(43) }, token), false, 'wrong token');
  });

  it('reads --web addresses and refuses host names', () => {
    assert.deepEqual(parseWebAddress('8090'), { host: '127.0.0.1', port: 8090 });
    assert.deepEqual(parseWebAddress(':0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseWebAddress('localhost:8090'), { host: '127.0.0.1', port: 8090 });
    assert.deepEqual(parseWebAddress('0.0.0.0:8090'), { host: '0.0.0.0', port: 8090 });
    assert.deepEqual(parseWebAddress('[::1]:8090'), { host: '::1', port: 8090 });
    for (const bad of ['example.com:8090', '127.0.0.1:70000', '127.0.0.1:', 'x']) {
      assert.throws(() => parseWebAddress(bad), /is not an address such as 127\.0\.0\.1:8090/, bad);
    }
    assert.equal(isLoopback('127.0.1.1'), true);
    assert.equal(isLoopback('0.0.0.0'), false);
  });
});
