/**
 * Global histogram equalisation with OpenCV's cv::equalizeHist semantics on 8-bit data: values are
 * first rounded and clamped to 0-255; the lowest occupied level maps to 0 and the cumulative histogram
 * above it is scaled by 255 / (N - count of that level).
 */
import { mapChannels, type PlanarImage } from '../image';
import { saturateU8, toU8 } from './quantize';

const f32 = Math.fround;

export function equalizeHistU8(src: Uint8Array): Uint8Array {
  const hist = new Int32Array(256);
  for (let i = 0; i < src.length; i++) hist[src[i]!]!++;
  const out = new Uint8Array(src.length);
  if (src.length === 0) return out;
  let i = 0;
  while (hist[i] === 0) i++;
  if (hist[i] === src.length) return out.fill(i);
  const lut = new Uint8Array(256);
  const scale = f32(255 / (src.length - hist[i]!));
  let sum = 0;
  for (lut[i++] = 0; i < 256; i++) {
    sum += hist[i]!;
    lut[i] = saturateU8(f32(f32(sum) * scale));
  }
  for (let k = 0; k < src.length; k++) out[k] = lut[src[k]!]!;
  return out;
}

export function histeq(img: PlanarImage): PlanarImage {
  const pixels = mapChannels(img, img.rows, img.columns, (s, d) => d.set(equalizeHistU8(toU8(s))));
  return { ...img, pixels };
}
