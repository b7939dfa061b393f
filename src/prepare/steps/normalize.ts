/**
 * Linear intensity normalisation to [min, max] (0-255, or 1-255 as in paper 004), clipping at the values
 * found at the given percentiles of the slice or of the whole volume (the pipeline finds them).
 */
import type { PlanarImage } from '../image';
import { percentiles } from './percentile';

export function intensityRange(values: Float32Array | Float32Array[], lowerPercentile: number, upperPercentile: number): [number, number] {
  const [lo, hi] = percentiles(values, [lowerPercentile, upperPercentile]);
  return [lo!, hi!];
}

export function normalize(img: PlanarImage, range: [number, number], min: number, max: number): PlanarImage {
  const [lo, hi] = range;
  const out = new Float32Array(img.pixels.length);
  if (!(hi > lo)) {
    out.fill(min);
  } else {
    const f = (max - min) / (hi - lo);
    for (let i = 0; i < out.length; i++) {
      const v = img.pixels[i]!;
      out[i] = Number.isNaN(v) ? min : v <= lo ? min : v >= hi ? max : min + (v - lo) * f;
    }
  }
  return { ...img, pixels: out };
}
