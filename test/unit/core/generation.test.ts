import assert from 'node:assert/strict';
import { resultGeneration } from '../../../src/core/generation';

describe('resultGeneration', () => {
  it('numbers results from 1 for the study generation 0 (first analysis)', () => {
    assert.equal(resultGeneration(0), 1);
    assert.equal(resultGeneration(3), 4);
  });

  it('refuses a study generation that is not a whole number from 0', () => {
    assert.throws(() => resultGeneration(-1), RangeError);
    assert.throws(() => resultGeneration(0.5), RangeError);
  });
});
