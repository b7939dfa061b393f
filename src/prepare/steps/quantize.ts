/** 8-bit quantisation used by the histogram steps (their OpenCV originals take uint8 images). */

/** Round half to even, as OpenCV's cvRound / saturate_cast<uchar>(float). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

export function saturateU8(v: number): number {
  const r = roundHalfEven(v);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/** Float values to 0-255 integers (rounded half to even, clamped; NaN becomes 0): saturateU8 of each value, inlined. */
export function toU8(src: Float32Array): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (!(v > 0)) continue; // NaN, and everything that rounds to 0 or below: 0
    if (v >= 255) {
      out[i] = 255;
      continue;
    }
    let r = Math.floor(v);
    const d = v - r;
    if (d > 0.5 || (d === 0.5 && (r & 1) === 1)) r++;
    out[i] = r;
  }
  return out;
}
