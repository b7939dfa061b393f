/**
 * Resample in-plane to an isotropic pixel spacing in mm (paper 004: 1 mm). The field of view is kept:
 * the new size is round(size * spacing / target) and the resulting spacing is exact for that size.
 */
import type { GridMap, PlanarImage } from '../image';
import { resize } from './resize';

export function resample(img: PlanarImage, spacingMm: number): { image: PlanarImage; map: GridMap } {
  const [sr, sc] = img.spacing;
  if (!(sr > 0) || !(sc > 0)) throw new Error(`cannot resample: pixel spacing ${sr} x ${sc} mm is not usable`);
  const rows = Math.max(1, Math.round((img.rows * sr) / spacingMm));
  const columns = Math.max(1, Math.round((img.columns * sc) / spacingMm));
  return resize(img, rows, columns);
}
