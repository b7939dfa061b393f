/**
 * Contrast limited adaptive histogram equalisation with OpenCV's cv::CLAHE semantics (8-bit path,
 * OpenCV 4.x clahe.cpp): a tiles x tiles grid; when the size is not a multiple of the grid the image is
 * extended at the bottom/right with BORDER_REFLECT_101 for the tile histograms (by a whole tile on an axis
 * that already divides, as OpenCV does); the clip limit is max(1, floor(clipLimit * tileArea / 256)); the
 * clipped excess is spread evenly, the residual one count per step; each tile's LUT is the cumulative
 * histogram times 255 / tileArea; every pixel blends the LUTs of the four nearest tile centres
 * bilinearly. Float arithmetic follows OpenCV's single precision and round-half-even.
 * Values are first rounded and clamped to 0-255.
 */
import { mapChannels, type PlanarImage } from '../image';
import type { IndexBox } from './crop';
import { saturateU8, toU8 } from './quantize';

const f32 = Math.fround;
const HIST = 256;

function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

/**
 * With a `window`, the tile histograms still cover the whole image but only the output pixels inside the
 * window are interpolated (the rest stay 0): for a crop that follows.
 */
export function claheU8(src: Uint8Array, rows: number, columns: number, clipLimit: number, tilesX: number, tilesY = tilesX, window?: IndexBox): Uint8Array {
  let extRows = rows;
  let extColumns = columns;
  if (columns % tilesX !== 0 || rows % tilesY !== 0) {
    extRows = rows + tilesY - (rows % tilesY);
    extColumns = columns + tilesX - (columns % tilesX);
  }
  const tw = extColumns / tilesX;
  const th = extRows / tilesY;
  const tileArea = tw * th;
  const lutScale = f32((HIST - 1) / tileArea);
  let clip = 0;
  if (clipLimit > 0) clip = Math.max(1, Math.trunc((clipLimit * tileArea) / HIST));

  const luts = new Uint8Array(tilesX * tilesY * HIST);
  const hist = new Int32Array(HIST);
  for (let ty = 0; ty < tilesY; ty++) {
    for (let tx = 0; tx < tilesX; tx++) {
      hist.fill(0);
      for (let y = ty * th; y < (ty + 1) * th; y++) {
        const sy = y < rows ? y : reflect101(y, rows);
        for (let x = tx * tw; x < (tx + 1) * tw; x++) {
          const sx = x < columns ? x : reflect101(x, columns);
          hist[src[sy * columns + sx]!]!++;
        }
      }
      if (clip > 0) {
        let clipped = 0;
        for (let i = 0; i < HIST; i++) {
          if (hist[i]! > clip) {
            clipped += hist[i]! - clip;
            hist[i] = clip;
          }
        }
        const batch = Math.trunc(clipped / HIST);
        let residual = clipped - batch * HIST;
        for (let i = 0; i < HIST; i++) hist[i]! += batch;
        if (residual !== 0) {
          const step = Math.max(Math.trunc(HIST / residual), 1);
          for (let i = 0; i < HIST && residual > 0; i += step, residual--) hist[i]!++;
        }
      }
      const lut = luts.subarray((ty * tilesX + tx) * HIST, (ty * tilesX + tx + 1) * HIST);
      let sum = 0;
      for (let i = 0; i < HIST; i++) {
        sum += hist[i]!;
        lut[i] = saturateU8(f32(f32(sum) * lutScale));
      }
    }
  }

  const invTw = f32(1 / tw);
  const invTh = f32(1 / th);
  const ind1 = new Int32Array(columns);
  const ind2 = new Int32Array(columns);
  const xa = new Float32Array(columns);
  const xa1 = new Float32Array(columns);
  for (let x = 0; x < columns; x++) {
    const txf = f32(f32(x * invTw) - 0.5);
    let tx1 = Math.floor(txf);
    let tx2 = tx1 + 1;
    xa[x] = f32(txf - tx1);
    xa1[x] = f32(1 - xa[x]!);
    tx1 = Math.max(tx1, 0);
    tx2 = Math.min(tx2, tilesX - 1);
    ind1[x] = tx1 * HIST;
    ind2[x] = tx2 * HIST;
  }
  const out = new Uint8Array(rows * columns);
  const { r0, r1, c0, c1 } = window ?? { r0: 0, r1: rows, c0: 0, c1: columns };
  for (let y = r0; y < r1; y++) {
    const tyf = f32(f32(y * invTh) - 0.5);
    let ty1 = Math.floor(tyf);
    let ty2 = ty1 + 1;
    const ya = f32(tyf - ty1);
    const ya1 = f32(1 - ya);
    ty1 = Math.max(ty1, 0);
    ty2 = Math.min(ty2, tilesY - 1);
    const p1 = ty1 * tilesX * HIST;
    const p2 = ty2 * tilesX * HIST;
    for (let x = c0; x < c1; x++) {
      const v = src[y * columns + x]!;
      const a = f32(f32(f32(luts[p1 + ind1[x]! + v]! * xa1[x]!) + f32(luts[p1 + ind2[x]! + v]! * xa[x]!)) * ya1);
      const b = f32(f32(f32(luts[p2 + ind1[x]! + v]! * xa1[x]!) + f32(luts[p2 + ind2[x]! + v]! * xa[x]!)) * ya);
      out[y * columns + x] = saturateU8(f32(a + b));
    }
  }
  return out;
}

export function clahe(img: PlanarImage, clipLimit: number, tiles: number, window?: IndexBox): PlanarImage {
  const pixels = mapChannels(img, img.rows, img.columns, (s, d) => d.set(claheU8(toU8(s), img.rows, img.columns, clipLimit, tiles, tiles, window)));
  return { ...img, pixels };
}
