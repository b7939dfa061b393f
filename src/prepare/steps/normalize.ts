/**
 * Linear intensity normalisation to [min, max] (0-255, or 1-255 as in paper 004), clipping at the values
 * found at the given percentiles of the slice or of the whole volume (the pipeline finds them).
 */
import type { PlanarImage } from '../image';
import type { IndexBox } from './crop';
import { percentiles } from './percentile';

export function intensityRange(values: Float32Array | Float32Array[], lowerPercentile: number, upperPercentile: number): [number, number] {
  const [lo, hi] = percentiles(values, [lowerPercentile, upperPercentile]);
  return [lo!, hi!];
}

/**
 * With a `window`, only the pixels inside it are computed (the rest stay 0): for a crop that follows and
 * reads nothing else.
 */
export function normalize(img: PlanarImage, range: [number, number], min: number, max: number, window?: IndexBox): PlanarImage {
  const [lo, hi] = range;
  const src = img.pixels;
  const out = new Float32Array(src.length);
  if (!window) {
    normalizeRun(src, out, 0, out.length, lo, hi, min, max);
  } else {
    for (let c = 0; c < img.channels; c++) {
      for (let r = window.r0; r < window.r1; r++) {
        const start = (c * img.rows + r) * img.columns;
        normalizeRun(src, out, start + window.c0, start + window.c1, lo, hi, min, max);
      }
    }
  }
  return { ...img, pixels: out };
}

/** out[from..to) = src clipped to [lo, hi] and mapped linearly to [min, max] (NaN -> min; all min when hi <= lo). */
function normalizeRun(src: Float32Array, out: Float32Array, from: number, to: number, lo: number, hi: number, min: number, max: number): void {
  if (!(hi > lo)) {
    out.fill(min, from, to);
    return;
  }
  const f = (max - min) / (hi - lo);
  for (let i = from; i < to; i++) {
    const v = src[i]!;
    out[i] = v <= lo ? min : v >= hi ? max : v === v ? min + (v - lo) * f : min; // v !== v: NaN
  }
}
