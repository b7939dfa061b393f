/** Retry delays for delivery: exponential from initialBackoffSeconds, capped at maxBackoffSeconds, with jitter. */

export interface BackoffPolicy {
  initialBackoffSeconds: number;
  maxBackoffSeconds: number;
}

/**
 * Delay in ms before the next attempt after `failedAttempts` (>= 1) failures: the exponential base
 * min(max, initial * 2^(failedAttempts-1)), then "equal jitter": half fixed, half uniform from `random()`
 * (so retries of many jobs spread out but never come sooner than half the base).
 */
export function backoffDelayMs(failedAttempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(failedAttempts));
  const base = Math.min(policy.maxBackoffSeconds, policy.initialBackoffSeconds * 2 ** Math.min(n - 1, 52));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base * 1000 * (0.5 + 0.5 * r));
}
