/** Set every pixel outside a region to a value (paper 003: intensity outside the tumour set to 0). */
import type { PlanarImage } from '../image';

export function maskOutside(img: PlanarImage, inside: (row: number, column: number) => boolean, value: number): PlanarImage {
  const out = new Float32Array(img.pixels);
  const n = img.rows * img.columns;
  for (let r = 0; r < img.rows; r++) {
    for (let x = 0; x < img.columns; x++) {
      if (inside(r, x)) continue;
      for (let c = 0; c < img.channels; c++) out[c * n + r * img.columns + x] = value;
    }
  }
  return { ...img, pixels: out };
}
