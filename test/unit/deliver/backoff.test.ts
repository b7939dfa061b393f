import assert from 'node:assert/strict';
import { backoffDelayMs } from '../../../src/deliver/backoff';

describe('delivery backoff', () => {
  const policy = { initialBackoffSeconds: 10, maxBackoffSeconds: 3600 };

  it('doubles the base delay after each failure', () => {
    const upper = (n: number) => backoffDelayMs(n, policy, () => 1);
    assert.deepEqual([1, 2, 3, 4].map(upper), [10_000, 20_000, 40_000, 80_000]);
  });

  it('never exceeds maxBackoffSeconds, however many failures', () => {
    assert.equal(backoffDelayMs(30, policy, () => 1), 3_600_000);
    assert.equal(backoffDelayMs(10_000, policy, () => 1), 3_600_000);
  });

  it('jitters between half and all of the base delay', () => {
    assert.equal(backoffDelayMs(1, policy, () => 0), 5_000);
    assert.equal(backoffDelayMs(1, policy, () => 0.5), 7_500);
    let seed = 42;
    const seeded = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelayMs(3, policy, seeded);
      assert.ok(d >= 20_000 && d <= 40_000, `delay ${d} out of range`);
    }
  });

  it('gives zero delay when initialBackoffSeconds is 0', () => {
    assert.equal(backoffDelayMs(5, { initialBackoffSeconds: 0, maxBackoffSeconds: 1 }, () => 1), 0);
  });

  it('treats attempts below 1 as the first failure', () => {
    assert.equal(backoffDelayMs(0, policy, () => 1), 10_000);
  });
});
