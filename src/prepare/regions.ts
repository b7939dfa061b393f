/**
 * What the localiser found on one slice, in that slice's source pixels, for the crop and maskOutside
 * steps. Boxes use edge coordinates: a box covers columns x0 <= x < x1 and rows y0 <= y < y1 (a box
 * around the single pixel (row 3, column 5) is {x0: 5, y0: 3, x1: 6, y1: 4}). Masks are rows x columns
 * of the source slice, non-zero inside. Several nodes are given as one GTVln region (union box and mask).
 */
import type { PixelBox } from '../core/pixel-box';
import type { Region } from './steps';
import type { GridMap } from './image';

export interface RegionMask {
  rows: number;
  columns: number;
  data: Uint8Array;
}

export interface RegionShape {
  box: PixelBox;
  mask?: RegionMask;
}

export interface SliceRegions {
  gtv?: RegionShape;
  gtvln?: RegionShape;
}

export class RegionMissingError extends Error {
  constructor(readonly region: Region) {
    super(`the slice has no ${region} region`);
    this.name = 'RegionMissingError';
  }
}

export interface ResolvedRegion {
  /** Edge-coordinate box in source pixels. */
  box: PixelBox;
  /** Whether the source pixel (row, column) lies inside the region (the mask where given, else the box). */
  inside(row: number, column: number): boolean;
}

function shapeInside(s: RegionShape): (row: number, column: number) => boolean {
  const m = s.mask;
  if (m) return (r, c) => r >= 0 && c >= 0 && r < m.rows && c < m.columns && m.data[r * m.columns + c] !== 0;
  const b = s.box;
  return (r, c) => c >= b.x0 && c < b.x1 && r >= b.y0 && r < b.y1;
}

/** The region a step names, or undefined when the slice does not have it. */
export function resolveRegion(region: Region, regions: SliceRegions | undefined, slice: { rows: number; columns: number }): ResolvedRegion | undefined {
  if (region === 'whole') return { box: { x0: 0, y0: 0, x1: slice.columns, y1: slice.rows }, inside: () => true };
  const shapes = (region === 'gtv' ? [regions?.gtv] : region === 'gtvln' ? [regions?.gtvln] : [regions?.gtv, regions?.gtvln]).filter(
    (s): s is RegionShape => s !== undefined,
  );
  if (shapes.length === 0) return undefined;
  const box = shapes.map((s) => s.box).reduce((a, b) => ({ x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) }));
  const tests = shapes.map(shapeInside);
  return { box, inside: (r, c) => tests.some((t) => t(r, c)) };
}

/** An edge-coordinate source box on the current grid. */
export function mapBox(box: PixelBox, m: GridMap): PixelBox {
  // Edge e lies half a pixel before centre e - 0.5 ... map the centres' outer edges.
  const y0 = (box.y0 - 0.5) * m.scaleRow + m.offsetRow + 0.5;
  const y1 = (box.y1 - 0.5) * m.scaleRow + m.offsetRow + 0.5;
  const x0 = (box.x0 - 0.5) * m.scaleColumn + m.offsetColumn + 0.5;
  const x1 = (box.x1 - 0.5) * m.scaleColumn + m.offsetColumn + 0.5;
  return { x0: Math.min(x0, x1), y0: Math.min(y0, y1), x1: Math.max(x0, x1), y1: Math.max(y0, y1) };
}

/** The source pixel (nearest) under the current grid's pixel centre (row, column). */
export function sourcePixel(row: number, column: number, m: GridMap): [number, number] {
  return [Math.round((row - m.offsetRow) / m.scaleRow), Math.round((column - m.offsetColumn) / m.scaleColumn)];
}
