/**
 * The SEG's pixel content: the localiser's per-slice masks -> one binary frame per (segment, slice) that has
 * pixels, on the source slice's matrix, and the frames bit-packed as BitsAllocated 1 wants them.
 *
 * localise() already maps its model-resolution masks (e.g. 128 x 128) back to each slice's matrix by nearest
 * neighbour (analyses/localisation.ts, toSourceMask); a mask given on another grid is resampled here the
 * same way (nearest neighbour, pixel centres), so that frame pixels always sit on the source pixels.
 */
import type { Slice } from '../../prepare/volume-types';
import type { RegionMask } from '../../prepare/regions';

/** A mask as localise() gives it (slice matrix, 1 = inside) or on its own grid. */
export type SliceMask = Uint8Array | RegionMask;

export interface SegmentFrame {
  /** Index into the input slices. */
  sliceIndex: number;
  slice: Slice;
  /** rows x columns of the slice, 0/1. */
  pixels: Uint8Array;
}

/** `mask` on `slice`'s matrix (0/1): as is when it already has that size, else nearest-neighbour resampled. */
export function maskOnSlice(mask: SliceMask, slice: Pick<Slice, 'rows' | 'columns'>): Uint8Array {
  const { rows, columns } = slice;
  const grid = mask instanceof Uint8Array ? { rows, columns, data: mask } : mask;
  if (grid.data.length !== grid.rows * grid.columns) {
    throw new Error(`mask has ${grid.data.length} values, ${grid.rows} x ${grid.columns} expected`);
  }
  const out = new Uint8Array(rows * columns);
  if (grid.rows === rows && grid.columns === columns) {
    // Copied whole, then any byte other than 0/1 set to 1, four bytes a step (localise() gives 0/1 already).
    out.set(grid.data);
    const words = new Uint32Array(out.buffer, 0, out.length >> 2);
    for (let w = 0; w < words.length; w++) {
      if ((words[w]! & 0xfefefefe) === 0) continue;
      for (let i = w * 4; i < w * 4 + 4; i++) out[i] = out[i] ? 1 : 0;
    }
    for (let i = words.length * 4; i < out.length; i++) out[i] = out[i] ? 1 : 0;
    return out;
  }
  for (let y = 0; y < rows; y++) {
    const gy = Math.min(grid.rows - 1, Math.floor(((y + 0.5) * grid.rows) / rows));
    for (let x = 0; x < columns; x++) {
      const gx = Math.min(grid.columns - 1, Math.floor(((x + 0.5) * grid.columns) / columns));
      out[y * columns + x] = grid.data[gy * grid.columns + gx] ? 1 : 0;
    }
  }
  return out;
}

/** Whether any byte of `data` is non-zero (four at a time where the view is aligned). */
function anyNonZero(data: Uint8Array): boolean {
  const head = data.byteOffset % 4 === 0 ? 0 : Math.min(data.length, 4 - (data.byteOffset % 4));
  for (let i = 0; i < head; i++) if (data[i] !== 0) return true;
  const words = new Uint32Array(data.buffer, data.byteOffset + head, (data.length - head) >> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return true;
  for (let i = head + words.length * 4; i < data.length; i++) if (data[i] !== 0) return true;
  return false;
}

/** The frames of one segment: slices (in the given order) whose mask has at least one pixel. */
export function framesOf(slices: readonly { slice: Slice; mask?: SliceMask }[]): SegmentFrame[] {
  const out: SegmentFrame[] = [];
  for (let sliceIndex = 0; sliceIndex < slices.length; sliceIndex++) {
    const { slice, mask } = slices[sliceIndex]!;
    if (!mask) continue;
    // Most slices' masks are empty: a mask on the slice's own matrix is checked before it is copied.
    const data = mask instanceof Uint8Array ? mask : mask.data;
    const sameGrid = mask instanceof Uint8Array || (mask.rows === slice.rows && mask.columns === slice.columns);
    if (sameGrid && data.length === slice.rows * slice.columns && !anyNonZero(data)) continue;
    const pixels = maskOnSlice(mask, slice);
    if (sameGrid || anyNonZero(pixels)) out.push({ sliceIndex, slice, pixels });
  }
  return out;
}

/** Whether a Uint32Array reads bytes little-endian (the word-wise packing below assumes it). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Packs 0/1 frames of rows x columns pixels into one bit stream (PS3.5 8.1.1: the first pixel in the
 * least significant bit, frames back to back without padding between them), padded to an even length.
 */
export function packBinaryFrames(frames: readonly Uint8Array[]): Uint8Array {
  const total = frames.reduce((n, f) => n + f.length, 0);
  const bytes = Math.ceil(total / 8);
  const out = new Uint8Array(bytes + (bytes % 2));
  let bit = 0;
  for (const f of frames) {
    let i = 0;
    if ((bit & 7) === 0) {
      // Frame starts on a byte boundary (always for matrices of a multiple of 8 pixels): eight pixels a byte,
      // read as two words where the frame is aligned and its bytes are 0/1.
      let o = bit >> 3;
      if (LITTLE_ENDIAN && f.byteOffset % 4 === 0) {
        const words = new Uint32Array(f.buffer, f.byteOffset, f.length >> 2);
        for (let w = 0; w + 2 <= words.length; w += 2, i += 8, o++) {
          const lo = words[w]!;
          const hi = words[w + 1]!;
          if (((lo | hi) & 0xfefefefe) !== 0) break;
          out[o] = (lo & 1) | ((lo >>> 7) & 2) | ((lo >>> 14) & 4) | ((lo >>> 21) & 8) | ((hi << 4) & 16) | ((hi >>> 3) & 32) | ((hi >>> 10) & 64) | ((hi >>> 17) & 128);
        }
      }
      for (; i + 8 <= f.length; i += 8, o++) {
        out[o] =
          (f[i] ? 1 : 0) |
          (f[i + 1] ? 2 : 0) |
          (f[i + 2] ? 4 : 0) |
          (f[i + 3] ? 8 : 0) |
          (f[i + 4] ? 16 : 0) |
          (f[i + 5] ? 32 : 0) |
          (f[i + 6] ? 64 : 0) |
          (f[i + 7] ? 128 : 0);
      }
      bit += i;
    }
    for (; i < f.length; i++, bit++) if (f[i]) out[bit >> 3]! |= 1 << (bit & 7);
  }
  return out;
}

/** The inverse of packBinaryFrames (tests, readers): frame `index` of `pixelsPerFrame` values. */
export function unpackBinaryFrame(packed: Uint8Array, index: number, pixelsPerFrame: number): Uint8Array {
  const out = new Uint8Array(pixelsPerFrame);
  const start = index * pixelsPerFrame;
  for (let i = 0; i < pixelsPerFrame; i++) {
    const bit = start + i;
    out[i] = (packed[bit >> 3]! >> (bit & 7)) & 1;
  }
  return out;
}
