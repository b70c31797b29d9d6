import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import { describe, it } from 'node:test';
import { addressBlocksOf, COUNTRIES, createRequestModel, pagePath } from '../../src/client/index.js';
import { FORBIDDEN_COUNTRIES } from '../../src/server/index.js';

describe('course client request model', () => {
  it('builds paths with "none" segments left out', () => {
    assert.equal(pagePath('bucket', 'webdir', 7), '/bucket/webdir/7.html');
    assert.equal(pagePath('none', 'webdir', 7), '/webdir/7.html');
    assert.equal(pagePath('bucket', 'none', 7), '/bucket/7.html');
    assert.equal(pagePath('none', 'none', 7), '/7.html');
  });

  it('knows 195 distinct countries, the nine forbidden ones among them', () => {
    assert.equal(COUNTRIES.length, 195);
    assert.equal(new Set(COUNTRIES).size, 195);
    for (const country of FORBIDDEN_COUNTRIES) assert.ok(COUNTRIES.includes(country), country);
  });

  it('draws public, well-formed IPv4 addresses from 1–9 fixed blocks per country', () => {
    for (const country of COUNTRIES) {
      const blocks = addressBlocksOf(country);
      assert.ok(blocks.length >= 1 && blocks.length <= 9, country);
      assert.deepEqual(addressBlocksOf(country), blocks, 'blocks do not depend on anything but the name');
    }
    const next = createRequestModel({ bucket: 'b', webdir: 'w', index: 100, seed: 5 });
    for (let i = 0; i < 2000; i++) {
      const { headers } = next();
      const ip = headers['X-client-IP']!;
      assert.ok(isIPv4(ip), ip);
      const [first, second] = ip.split('.').map(Number);
      assert.ok(![0, 10, 127, 169, 172, 192].includes(first!), ip);
      assert.ok(addressBlocksOf(headers['X-country']!).some(([a, b]) => a === first && b === second), `${ip} not in ${headers['X-country']}'s blocks`);
    }
  });

  it('sends every header of the model, with values from the model', () => {
    const next = createRequestModel({ bucket: 'b', webdir: 'w', index: 10, seed: 1, today: new Date(2026, 10, 25) });
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const { path, headers } = next();
      assert.match(path, /^\/b\/w\/\d\.html$/);
      assert.deepEqual(Object.keys(headers).sort(), ['X-age', 'X-client-IP', 'X-country', 'X-gender', 'X-income', 'X-time'].sort());
      assert.match(headers['X-time']!, /^2026-11-25 ([01]\d|2[0-3]):00:00$/);
      assert.ok(['Male', 'Female'].includes(headers['X-gender']!));
      seen.add(headers['X-country']!);
    }
    // 3,000 draws over 195 countries reach nearly all of them, forbidden ones included.
    assert.ok(seen.size > 180, `${seen.size} countries seen`);
    assert.ok(FORBIDDEN_COUNTRIES.some((country) => seen.has(country)));
  });

  it('sends every request as from one country with --country, and refuses an unknown name', () => {
    const next = createRequestModel({ bucket: 'b', webdir: 'w', index: 10, seed: 2, country: 'North Korea' });
    for (let i = 0; i < 100; i++) {
      const { headers } = next();
      assert.equal(headers['X-country'], 'North Korea');
      assert.ok(addressBlocksOf('North Korea').some(([a, b]) => headers['X-client-IP']!.startsWith(`${a}.${b}.`)));
    }
    assert.throws(() => createRequestModel({ bucket: 'b', webdir: 'w', index: 10, seed: 2, country: 'Atlantis' }), /"Atlantis" is not one of the 195 country names/);
  });

  it('gives the same sequence for the same seed and another for another seed', () => {
    const sequence = (seed: number) => {
      const next = createRequestModel({ bucket: 'b', webdir: 'w', index: 10_000, seed, today: new Date(2026, 0, 1) });
      return Array.from({ length: 50 }, next);
    };
    assert.deepEqual(sequence(42), sequence(42));
    assert.notDeepEqual(sequence(42), sequence(43));
  });
});
