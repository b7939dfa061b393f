import assert from 'node:assert/strict';
import { errorMessage } from '../../../src/util/error-message';

describe('errorMessage', () => {
  it("gives an Error's message without its class name", () => {
    assert.equal(errorMessage(new TypeError('bad input')), 'bad input');
  });

  it('gives a thrown non-Error as a string', () => {
    assert.equal(errorMessage('disk full'), 'disk full');
    assert.equal(errorMessage(42), '42');
    assert.equal(errorMessage(undefined), 'undefined');
    assert.equal(errorMessage(null), 'null');
  });
});
