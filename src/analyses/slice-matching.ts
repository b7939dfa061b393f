/**
 * Geometry between series of one study (or a slice and its neighbours): the slice of another series at the
 * same level, and a region (box, mask) carried from one slice's pixel grid to another's through patient space.
 */
import type { Slice, Volume } from '../prepare/volume-types';
import type { SliceRegions } from './ports';
import type { PixelBox } from './types';

const dot = (a: readonly number[], b: readonly number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;

/** The slice of `volume` nearest to `slice` along the volume's normal, if within half a slice spacing (at least 1 mm). */
export function nearestSlice(volume: Volume, slice: Slice): Slice | undefined {
  const loc = dot(slice.position, volume.normal);
  let best: Slice | undefined;
  let bestD = Infinity;
  for (const s of volume.slices) {
    const d = Math.abs(dot(s.position, volume.normal) - loc);
    if (d < bestD) {
      bestD = d;
      best = s;
    }
  }
  const tolerance = Math.max(1, 0.5 * (volume.sliceSpacing || 0));
  return bestD <= tolerance ? best : undefined;
}

function sameGrid(a: Slice, b: Slice): boolean {
  return (
    a.rows === b.rows &&
    a.columns === b.columns &&
    a.pixelSpacing[0] === b.pixelSpacing[0] &&
    a.pixelSpacing[1] === b.pixelSpacing[1] &&
    Math.abs(a.position[0] - b.position[0]) < 1e-3 &&
    Math.abs(a.position[1] - b.position[1]) < 1e-3
  );
}

/** Maps continuous pixel coordinates of `from` to those of `to` (both slices assumed parallel). */
function pointMapper(from: Slice, fromVolume: Volume, to: Slice, toVolume: Volume): (x: number, y: number) => [number, number] {
  const [r0, r1, r2, c0, c1, c2] = fromVolume.orientation;
  const [tr0, tr1, tr2, tc0, tc1, tc2] = toVolume.orientation;
  return (x, y) => {
    const p = [0, 1, 2].map((k) => from.position[k]! + [r0, r1, r2][k]! * x * from.pixelSpacing[1] + [c0, c1, c2][k]! * y * from.pixelSpacing[0]);
    const d = [p[0]! - to.position[0], p[1]! - to.position[1], p[2]! - to.position[2]];
    return [dot(d, [tr0, tr1, tr2]) / to.pixelSpacing[1], dot(d, [tc0, tc1, tc2]) / to.pixelSpacing[0]];
  };
}

/** Carries regions from `from`'s pixel grid to `to`'s (identity on the same grid). */
export function mapRegions(regions: SliceRegions, from: Slice, fromVolume: Volume, to: Slice, toVolume: Volume): SliceRegions {
  if (from === to || sameGrid(from, to)) return regions;
  const map = pointMapper(from, fromVolume, to, toVolume);
  const back = pointMapper(to, toVolume, from, fromVolume);
  const box = (b: PixelBox | undefined): PixelBox | undefined => {
    if (!b) return undefined;
    const pts = [map(b.x0, b.y0), map(b.x1, b.y0), map(b.x0, b.y1), map(b.x1, b.y1)];
    const x0 = Math.max(0, Math.floor(Math.min(...pts.map((p) => p[0]))));
    const y0 = Math.max(0, Math.floor(Math.min(...pts.map((p) => p[1]))));
    const x1 = Math.min(to.columns, Math.ceil(Math.max(...pts.map((p) => p[0]))));
    const y1 = Math.min(to.rows, Math.ceil(Math.max(...pts.map((p) => p[1]))));
    return x1 > x0 && y1 > y0 ? { x0, y0, x1, y1 } : undefined;
  };
  const mask = (m: Uint8Array | undefined): Uint8Array | undefined => {
    if (!m) return undefined;
    const out = new Uint8Array(to.rows * to.columns);
    for (let y = 0; y < to.rows; y++) {
      for (let x = 0; x < to.columns; x++) {
        const [fx, fy] = back(x + 0.5, y + 0.5);
        const ix = Math.floor(fx);
        const iy = Math.floor(fy);
        if (ix >= 0 && iy >= 0 && ix < from.columns && iy < from.rows) out[y * to.columns + x] = m[iy * from.columns + ix]!;
      }
    }
    return out;
  };
  const out: SliceRegions = {};
  const gtv = box(regions.gtv);
  const gtvln = box(regions.gtvln);
  if (gtv) out.gtv = gtv;
  if (gtvln) out.gtvln = gtvln;
  const gm = mask(regions.gtvMask);
  const lm = mask(regions.gtvlnMask);
  if (gm && gtv) out.gtvMask = gm;
  if (lm && gtvln) out.gtvlnMask = lm;
  return out;
}
