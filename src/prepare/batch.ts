/** Stacks prepared slices into one NCHW Float32Array for an ONNX input tensor. */
import type { PlanarImage } from './image';

export interface NchwBatch {
  data: Float32Array;
  dims: [number, number, number, number];
}

export function toNchwBatch(images: PlanarImage[]): NchwBatch {
  if (images.length === 0) throw new Error('cannot make a batch of no images');
  const { channels, rows, columns } = images[0]!;
  const per = channels * rows * columns;
  const data = new Float32Array(images.length * per);
  images.forEach((img, i) => {
    if (img.channels !== channels || img.rows !== rows || img.columns !== columns) {
      throw new Error(`batch image ${i} is ${img.channels}x${img.rows}x${img.columns}, the first is ${channels}x${rows}x${columns}: the model's steps must end in a fixed size`);
    }
    data.set(img.pixels, i * per);
  });
  return { data, dims: [images.length, channels, rows, columns] };
}
