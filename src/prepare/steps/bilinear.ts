/**
 * Bilinear resampling of one float plane with pixel-centre alignment (source coordinate
 * (i + 0.5) * in / out - 0.5, clamped to the edge), the same mapping as OpenCV INTER_LINEAR and
 * PyTorch align_corners=False, without antialiasing. Written in TypeScript rather than with sharp/libvips
 * because the data are float (rescaled MR values, normalised intensities) and sharp's pipeline is 8/16-bit
 * integer: a float kernel keeps serving and training export bit-identical.
 */
export function resizeBilinear(src: Float32Array, rows: number, columns: number, newRows: number, newColumns: number, dst: Float32Array = new Float32Array(newRows * newColumns)): Float32Array {
  if (newRows === rows && newColumns === columns) {
    dst.set(src);
    return dst;
  }
  const sy = rows / newRows;
  const sx = columns / newColumns;
  const x0s = new Int32Array(newColumns);
  const x1s = new Int32Array(newColumns);
  const wxs = new Float32Array(newColumns);
  for (let x = 0; x < newColumns; x++) {
    let fx = (x + 0.5) * sx - 0.5;
    if (fx < 0) fx = 0;
    if (fx > columns - 1) fx = columns - 1;
    const x0 = Math.floor(fx);
    x0s[x] = x0;
    x1s[x] = Math.min(x0 + 1, columns - 1);
    wxs[x] = fx - x0;
  }
  for (let y = 0; y < newRows; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    if (fy > rows - 1) fy = rows - 1;
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, rows - 1);
    const wy = fy - y0;
    const r0 = y0 * columns;
    const r1 = y1 * columns;
    const o = y * newColumns;
    for (let x = 0; x < newColumns; x++) {
      const wx = wxs[x]!;
      const a = src[r0 + x0s[x]!]! + (src[r0 + x1s[x]!]! - src[r0 + x0s[x]!]!) * wx;
      const b = src[r1 + x0s[x]!]! + (src[r1 + x1s[x]!]! - src[r1 + x0s[x]!]!) * wx;
      dst[o + x] = a + (b - a) * wy;
    }
  }
  return dst;
}

/**
 * Bilinear sampling along one axis, computed once per row or column instead of once per pixel: for output
 * index i, the source coordinate `coordinate(i)` clamped to 0..size-1, its two neighbours and their weights.
 */
export interface AxisSamples {
  i0: Int32Array;
  i1: Int32Array;
  /** Weight of i0: 1 - w1. */
  w0: Float64Array;
  /** Weight of i1: the fractional part. */
  w1: Float64Array;
}

export function axisSamples(count: number, size: number, coordinate: (i: number) => number): AxisSamples {
  const out: AxisSamples = { i0: new Int32Array(count), i1: new Int32Array(count), w0: new Float64Array(count), w1: new Float64Array(count) };
  for (let i = 0; i < count; i++) {
    const f = Math.min(Math.max(coordinate(i), 0), size - 1);
    const a = Math.floor(f);
    const w = f - a;
    out.i0[i] = a;
    out.i1[i] = Math.min(a + 1, size - 1);
    out.w0[i] = 1 - w;
    out.w1[i] = w;
  }
  return out;
}
