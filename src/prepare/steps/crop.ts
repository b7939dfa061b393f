/**
 * Rectangular crop (rows r0..r1-1, columns c0..c1-1), clamped to the image. The box comes from the
 * region's bounding box plus a margin (mm or a fraction of the box) and a minimum size, see cropBox.
 */
import { translateMap, type GridMap, type PlanarImage } from '../image';

export interface IndexBox {
  r0: number;
  c0: number;
  /** Exclusive. */
  r1: number;
  c1: number;
}

/**
 * Integer crop box around an edge-coordinate box (y0..y1 rows, x0..x1 columns, in this image's pixels):
 * grown by marginMm on every side plus marginFraction of the box's height/width per side, then up to
 * minSizeMm per side (centred), rounded outwards and clamped to the image.
 */
export function cropBox(
  img: PlanarImage,
  box: { x0: number; y0: number; x1: number; y1: number },
  opts: { marginMm: number; marginFraction: number; minSizeMm: number },
): IndexBox {
  const [sr, sc] = img.spacing;
  let y0 = box.y0, y1 = box.y1, x0 = box.x0, x1 = box.x1;
  const h = y1 - y0;
  const w = x1 - x0;
  const mr = opts.marginMm / sr + opts.marginFraction * h;
  const mc = opts.marginMm / sc + opts.marginFraction * w;
  y0 -= mr; y1 += mr; x0 -= mc; x1 += mc;
  const minR = opts.minSizeMm / sr;
  const minC = opts.minSizeMm / sc;
  if (y1 - y0 < minR) { const g = (minR - (y1 - y0)) / 2; y0 -= g; y1 += g; }
  if (x1 - x0 < minC) { const g = (minC - (x1 - x0)) / 2; x0 -= g; x1 += g; }
  const r0 = Math.max(0, Math.floor(y0 + 1e-9));
  const c0 = Math.max(0, Math.floor(x0 + 1e-9));
  const r1 = Math.min(img.rows, Math.ceil(y1 - 1e-9));
  const c1 = Math.min(img.columns, Math.ceil(x1 - 1e-9));
  if (r1 <= r0 || c1 <= c0) throw new Error(`crop box ${JSON.stringify(box)} lies outside the ${img.rows} x ${img.columns} image`);
  return { r0, c0, r1, c1 };
}

export function crop(img: PlanarImage, b: IndexBox): { image: PlanarImage; map: GridMap } {
  const rows = b.r1 - b.r0;
  const columns = b.c1 - b.c0;
  const out = new Float32Array(img.channels * rows * columns);
  for (let c = 0; c < img.channels; c++) {
    for (let r = 0; r < rows; r++) {
      const s = (c * img.rows + r + b.r0) * img.columns + b.c0;
      out.set(img.pixels.subarray(s, s + columns), (c * rows + r) * columns);
    }
  }
  return { image: { ...img, pixels: out, rows, columns }, map: translateMap(-b.r0, -b.c0) };
}
