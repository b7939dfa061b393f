/** Linear map v -> v * scale + offset (e.g. 0-255 to 0-1). */
import type { PlanarImage } from '../image';

export function scale(img: PlanarImage, factor: number, offset: number): PlanarImage {
  const out = new Float32Array(img.pixels.length);
  for (let i = 0; i < out.length; i++) out[i] = img.pixels[i]! * factor + offset;
  return { ...img, pixels: out };
}
