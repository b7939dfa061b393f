/**
 * The image the preparation steps work on: float pixels, channel-planar (C x rows x columns), with its
 * in-plane spacing and the affine that maps source-slice pixel coordinates onto its own pixel grid.
 */

export interface PlanarImage {
  /** Channel-planar values: channel c, row r, column x at (c * rows + r) * columns + x. */
  pixels: Float32Array;
  rows: number;
  columns: number;
  channels: number;
  /** [row spacing, column spacing] in mm. */
  spacing: [number, number];
}

/**
 * Pixel-centre coordinates of the source slice map to this image's pixel-centre coordinates by
 * row' = row * scaleRow + offsetRow and column' = column * scaleColumn + offsetColumn.
 */
export interface GridMap {
  scaleRow: number;
  scaleColumn: number;
  offsetRow: number;
  offsetColumn: number;
}

export const IDENTITY_MAP: GridMap = { scaleRow: 1, scaleColumn: 1, offsetRow: 0, offsetColumn: 0 };

/** Apply `next` after `map`. */
export function composeMaps(map: GridMap, next: GridMap): GridMap {
  return {
    scaleRow: map.scaleRow * next.scaleRow,
    scaleColumn: map.scaleColumn * next.scaleColumn,
    offsetRow: map.offsetRow * next.scaleRow + next.offsetRow,
    offsetColumn: map.offsetColumn * next.scaleColumn + next.offsetColumn,
  };
}

/** The map of a resize from (rows, columns) to (newRows, newColumns) with pixel-centre alignment. */
export function resizeMap(rows: number, columns: number, newRows: number, newColumns: number): GridMap {
  const fr = newRows / rows;
  const fc = newColumns / columns;
  return { scaleRow: fr, scaleColumn: fc, offsetRow: 0.5 * fr - 0.5, offsetColumn: 0.5 * fc - 0.5 };
}

export function translateMap(dRow: number, dColumn: number): GridMap {
  return { scaleRow: 1, scaleColumn: 1, offsetRow: dRow, offsetColumn: dColumn };
}

export function channelPlane(img: PlanarImage, c: number): Float32Array {
  const n = img.rows * img.columns;
  return img.pixels.subarray(c * n, (c + 1) * n);
}

/** A one-channel image from a slice's pixels (not copied: steps never write their input). */
export function imageFromSlice(slice: { pixels: Float32Array; rows: number; columns: number; pixelSpacing: [number, number] }): PlanarImage {
  if (slice.pixels.length !== slice.rows * slice.columns) throw new Error(`slice has ${slice.pixels.length} pixels, expected ${slice.rows} x ${slice.columns}`);
  return { pixels: slice.pixels, rows: slice.rows, columns: slice.columns, channels: 1, spacing: [slice.pixelSpacing[0], slice.pixelSpacing[1]] };
}

/** Run `fn` on every channel plane, producing an image of the given size. */
export function mapChannels(img: PlanarImage, rows: number, columns: number, fn: (src: Float32Array, dst: Float32Array) => void): Float32Array {
  const out = new Float32Array(img.channels * rows * columns);
  for (let c = 0; c < img.channels; c++) fn(channelPlane(img, c), out.subarray(c * rows * columns, (c + 1) * rows * columns));
  return out;
}
