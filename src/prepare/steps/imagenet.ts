/**
 * ImageNet normalisation: v / 255, minus the channel mean, divided by the channel standard deviation
 * (torchvision values). A one-channel image is replicated to three channels (R = G = B) first.
 */
import type { PlanarImage } from '../image';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export function imagenet(img: PlanarImage): PlanarImage {
  if (img.channels !== 1 && img.channels !== 3) throw new Error(`imagenet normalisation needs 1 or 3 channels, got ${img.channels}`);
  const n = img.rows * img.columns;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const src = img.pixels.subarray((img.channels === 1 ? 0 : c) * n, (img.channels === 1 ? 1 : c + 1) * n);
    const m = IMAGENET_MEAN[c]!;
    const s = IMAGENET_STD[c]!;
    for (let i = 0; i < n; i++) out[c * n + i] = (src[i]! / 255 - m) / s;
  }
  return { ...img, pixels: out, channels: 3 };
}
