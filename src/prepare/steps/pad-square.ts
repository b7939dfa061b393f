/** Zero-pad (never stretch) to a square, the image centred (paper 001: a 400x200 crop padded to square). */
import { translateMap, type GridMap, type PlanarImage } from '../image';

export function padSquare(img: PlanarImage, value: number): { image: PlanarImage; map: GridMap } {
  const size = Math.max(img.rows, img.columns);
  const top = Math.floor((size - img.rows) / 2);
  const left = Math.floor((size - img.columns) / 2);
  const out = new Float32Array(img.channels * size * size).fill(value);
  for (let c = 0; c < img.channels; c++) {
    for (let r = 0; r < img.rows; r++) {
      const s = (c * img.rows + r) * img.columns;
      out.set(img.pixels.subarray(s, s + img.columns), (c * size + r + top) * size + left);
    }
  }
  return { image: { ...img, pixels: out, rows: size, columns: size }, map: translateMap(top, left) };
}
