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
  const f = (max - min) / (hi - lo);
  const flat = !(hi > lo);
  const run = (from: number, to: number) => {
    if (flat) {
      out.fill(min, from, to);
      return;
    }
    for (let i = from; i < to; i++) {
      const v = src[i]!;
      out[i] = Number.isNaN(v) ? min : v <= lo ? min : v >= hi ? max : min + (v - lo) * f;
    }
  };
  if (!window) run(0, out.length);
  else forWindowRows(img, window, run);
  return { ...img, pixels: out };
}

/** Calls `run(from, to)` for the index range of every row of `window` in every channel plane of `img`. */
export function forWindowRows(img: PlanarImage, window: IndexBox, run: (from: number, to: number) => void): void {
  for (let c = 0; c < img.channels; c++) {
    for (let r = window.r0; r < window.r1; r++) {
      const start = (c * img.rows + r) * img.columns;
      run(start + window.c0, start + window.c1);
    }
  }
}
