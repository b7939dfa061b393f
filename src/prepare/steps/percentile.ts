/**
 * Exact percentiles with linear interpolation between order statistics (numpy's default method),
 * by quickselect on a copy (O(n), no full sort). NaN values are ignored.
 */

function select(a: Float32Array, k: number, lo: number, hi: number): number {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three as pivot
    const x = a[lo]!, y = a[mid]!, z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/** The values at the given percentiles (0-100) of `values`. */
export function percentiles(values: Float32Array | Float32Array[], ps: number[]): number[] {
  const parts = Array.isArray(values) ? values : [values];
  let n = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) if (!Number.isNaN(p[i]!)) n++;
  if (n === 0) return ps.map(() => NaN);
  const a = new Float32Array(n);
  let w = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) if (!Number.isNaN(p[i]!)) a[w++] = p[i]!;
  return ps.map((p) => {
    const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
    const k = Math.floor(rank);
    const v0 = select(a, k, 0, n - 1);
    if (rank === k) return v0;
    // a[k+1..] are all >= v0 after selection: the next order statistic is their minimum.
    let v1 = Infinity;
    for (let i = k + 1; i < n; i++) if (a[i]! < v1) v1 = a[i]!;
    return v0 + (v1 - v0) * (rank - k);
  });
}
