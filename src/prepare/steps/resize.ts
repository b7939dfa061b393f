/** Resize to a fixed size (bilinear, pixel-centre aligned; see bilinear.ts for why not sharp). */
import { mapChannels, resizeMap, type GridMap, type PlanarImage } from '../image';
import { resizeBilinear } from './bilinear';

export function resize(img: PlanarImage, rows: number, columns: number): { image: PlanarImage; map: GridMap } {
  const pixels = mapChannels(img, rows, columns, (s, d) => resizeBilinear(s, img.rows, img.columns, rows, columns, d));
  return {
    image: { pixels, rows, columns, channels: img.channels, spacing: [(img.spacing[0] * img.rows) / rows, (img.spacing[1] * img.columns) / columns] },
    map: resizeMap(img.rows, img.columns, rows, columns),
  };
}
