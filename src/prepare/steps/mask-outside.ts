/** Set every pixel outside a region to a value (paper 003: intensity outside the tumour set to 0). */
import type { PlanarImage } from '../image';
import type { IndexBox } from './crop';

/** With a `window`, only the pixels inside it are masked (for a crop that follows and reads nothing else). */
export function maskOutside(img: PlanarImage, inside: (row: number, column: number) => boolean, value: number, window?: IndexBox): PlanarImage {
  const out = new Float32Array(img.pixels);
  const n = img.rows * img.columns;
  const { r0, r1, c0, c1 } = window ?? { r0: 0, r1: img.rows, c0: 0, c1: img.columns };
  for (let r = r0; r < r1; r++) {
    for (let x = c0; x < c1; x++) {
      if (inside(r, x)) continue;
      for (let c = 0; c < img.channels; c++) out[c * n + r * img.columns + x] = value;
    }
  }
  return { ...img, pixels: out };
}
