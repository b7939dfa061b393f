/** Region boxes of the localiser's output: the union of GTV and GTVln, and a box with a margin in mm. */
import type { Region } from '../prepare/steps';
import type { SliceRegions } from './ports';
import type { PixelBox } from './types';

/** Grows a box by the crop step's margins (mm and fraction) and minimum size, then clips it to the image. */
export function expandBox(
  box: PixelBox,
  spacing: [number, number],
  step: { marginMm: number; marginFraction: number; minSizeMm: number },
  columns: number,
  rows: number,
): PixelBox {
  const w = box.x1 - box.x0;
  const h = box.y1 - box.y0;
  let mx = step.marginMm / spacing[1] + step.marginFraction * w;
  let my = step.marginMm / spacing[0] + step.marginFraction * h;
  const minW = step.minSizeMm / spacing[1];
  const minH = step.minSizeMm / spacing[0];
  if (w + 2 * mx < minW) mx = (minW - w) / 2;
  if (h + 2 * my < minH) my = (minH - h) / 2;
  const x0 = Math.max(0, Math.floor(box.x0 - mx));
  const y0 = Math.max(0, Math.floor(box.y0 - my));
  const x1 = Math.min(columns, Math.ceil(box.x1 + mx));
  const y1 = Math.min(rows, Math.ceil(box.y1 + my));
  return { x0, y0, x1: Math.max(x1, x0 + 1), y1: Math.max(y1, y0 + 1) };
}

export function regionBox(regions: SliceRegions, region: Region): PixelBox | undefined {
  if (region === 'whole') return undefined;
  const boxes = [region !== 'gtvln' ? regions.gtv : undefined, region !== 'gtv' ? regions.gtvln : undefined].filter((b): b is PixelBox => !!b);
  if (!boxes.length) return undefined;
  return {
    x0: Math.min(...boxes.map((b) => b.x0)),
    y0: Math.min(...boxes.map((b) => b.y0)),
    x1: Math.max(...boxes.map((b) => b.x1)),
    y1: Math.max(...boxes.map((b) => b.y1)),
  };
}
