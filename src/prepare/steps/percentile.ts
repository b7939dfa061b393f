/**
 * Exact percentiles with linear interpolation between order statistics (numpy's default method). NaN
 * values are ignored. The order statistics are found by a two-level radix select on the values' bits
 * (float32 bits mapped to unsigned keys that sort like the numbers): one pass counts the upper 16 bits,
 * a second pass counts the lower 16 bits inside the few upper buckets that hold a wanted rank. O(n), no
 * copy of the values, and exactly the values a sort would give (-0 sorts just below +0).
 */

const BUCKETS = 0x10000;

/**
 * float32 bits (as int32) -> a key whose unsigned order is the numeric order: negative values are
 * inverted, positive ones get the sign bit. `key >>> 16` is its upper bucket, `key & 0xffff` the lower.
 */
const keyOf = (bits: number): number => bits ^ ((bits >> 31) | -0x80000000);

const keyBits = new Uint32Array(1);
const keyFloat = new Float32Array(keyBits.buffer);
/** The value of an unsigned key (inverse of keyOf). */
function valueOf(key: number): number {
  keyBits[0] = key >= 0x80000000 ? key - 0x80000000 : ~key;
  return keyFloat[0]!;
}

function bitsOf(p: Float32Array): Int32Array {
  return new Int32Array(p.buffer, p.byteOffset, p.length);
}

/** The values at the given 0-based ranks (each below the count of non-NaN values) of `parts`; `upper` counts their upper 16 key bits. */
function orderStatistics(parts: Float32Array[], upper: Uint32Array, ranks: number[]): number[] {
  // Upper bucket of each rank and the count of values in the buckets below it.
  const wanted = [...new Set(ranks)].sort((a, b) => a - b);
  const bucketOfRank = new Map<number, { bucket: number; below: number }>();
  let cum = 0;
  let b = 0;
  for (const r of wanted) {
    while (cum + upper[b]! <= r) cum += upper[b++]!;
    bucketOfRank.set(r, { bucket: b, below: cum });
  }
  const buckets = [...new Set([...bucketOfRank.values()].map((x) => x.bucket))];
  const slot = new Int32Array(BUCKETS).fill(-1);
  buckets.forEach((bk, i) => (slot[bk] = i));
  const lower = new Uint32Array(buckets.length * BUCKETS);
  // NaN can only fall in the outermost buckets (those of the infinities): the NaN test is needed only there.
  const careful = buckets.some(mayHoldNaN);
  for (const p of parts) {
    const u = bitsOf(p);
    for (let i = 0; i < u.length; i++) {
      const bits = u[i]!;
      if (careful && (bits & 0x7fffffff) > 0x7f800000) continue; // NaN
      const key = keyOf(bits);
      const s = slot[key >>> 16]!;
      if (s >= 0) lower[s * BUCKETS + (key & 0xffff)]!++;
    }
  }
  return ranks.map((r) => {
    const { bucket, below } = bucketOfRank.get(r)!;
    const base = slot[bucket]! * BUCKETS;
    let c = below;
    let low = 0;
    while (c + lower[base + low]! <= r) c += lower[base + low++]!;
    return valueOf(((bucket << 16) | low) >>> 0);
  });
}

/** Whether an upper bucket can hold NaN keys: negative NaN and -Infinity below 0x0080, positive NaN and +Infinity from 0xff80. */
const mayHoldNaN = (bucket: number): boolean => bucket <= 0x7f || bucket >= 0xff80;

/** Counts the upper 16 key bits of the non-NaN values into `upper`; returns their number. */
function countUpper(parts: Float32Array[], upper: Uint32Array): number {
  let total = 0;
  for (const p of parts) {
    const u = bitsOf(p);
    for (let i = 0; i < u.length; i++) upper[keyOf(u[i]!) >>> 16]!++;
    total += u.length;
  }
  let outer = 0;
  for (let b = 0; b < BUCKETS; b++) if (mayHoldNaN(b)) outer += upper[b]!;
  if (outer === 0) return total; // no NaN (nor infinity): done in one loop without the NaN test
  upper.fill(0);
  let n = 0;
  for (const p of parts) {
    const u = bitsOf(p);
    for (let i = 0; i < u.length; i++) {
      const bits = u[i]!;
      if ((bits & 0x7fffffff) > 0x7f800000) continue; // NaN
      upper[keyOf(bits) >>> 16]!++;
      n++;
    }
  }
  return n;
}

/**
 * The values at the given 0-based ranks (ascending) of the non-NaN values: exactly what sorting them would put
 * at each rank. Every rank must be below the number of non-NaN values.
 */
export function valuesAtRanks(values: Float32Array, ranks: number[]): number[] {
  const upper = new Uint32Array(BUCKETS);
  const n = countUpper([values], upper);
  for (const r of ranks) if (!(r >= 0 && r < n && Number.isInteger(r))) throw new RangeError(`rank ${r} outside 0..${n - 1}`);
  return orderStatistics([values], upper, ranks);
}

/** The values at the given percentiles (0-100) of `values`. */
export function percentiles(values: Float32Array | Float32Array[], ps: number[]): number[] {
  const parts = Array.isArray(values) ? values : [values];
  const upper = new Uint32Array(BUCKETS);
  const n = countUpper(parts, upper);
  if (n === 0) return ps.map(() => NaN);
  const plan = ps.map((p) => {
    const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
    const k = Math.floor(rank);
    return { rank, k };
  });
  const ranks: number[] = [];
  for (const { rank, k } of plan) {
    if (!Number.isFinite(rank)) continue;
    ranks.push(k);
    if (rank !== k) ranks.push(k + 1);
  }
  const stats = new Map<number, number>();
  const found = orderStatistics(parts, upper, ranks);
  ranks.forEach((r, i) => stats.set(r, found[i]!));
  return plan.map(({ rank, k }) => {
    if (!Number.isFinite(rank)) return NaN;
    const v0 = stats.get(k)!;
    if (rank === k) return v0;
    const v1 = stats.get(k + 1)!;
    return v0 + (v1 - v0) * (rank - k);
  });
}
