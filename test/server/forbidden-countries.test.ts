import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FORBIDDEN_COUNTRIES, forbiddenCountryIn } from '../../src/server/index.js';

describe('forbiddenCountryIn', () => {
  it('knows the nine countries of the export-control list', () => {
    assert.equal(FORBIDDEN_COUNTRIES.length, 9);
    for (const country of FORBIDDEN_COUNTRIES) assert.equal(forbiddenCountryIn(country), country);
  });

  for (const [value, expected] of [
    ['iran', 'Iran'],
    ['IRAN', 'Iran'],
    ['  North Korea  ', 'North Korea'],
    ['north KOREA', 'North Korea'],
    ['\tSyria', 'Syria'],
    ['France, Cuba', 'Cuba'],
  ] as const) {
    it(`refuses ${JSON.stringify(value)}`, () => assert.equal(forbiddenCountryIn(value), expected));
  }

  for (const value of [undefined, '', 'France', 'South Korea', 'Irann', 'Korea', 'North  Korea', 'Sudanese']) {
    it(`lets ${JSON.stringify(value)} through`, () => assert.equal(forbiddenCountryIn(value), null));
  }
});
