/**
 * Localisation of the primary tumour (GTV) and metastatic nodes (GTVln) on every slice (papers 002, 004):
 * the localiser's mask output -> connected components -> Detection[] per slice (boxes in source pixels,
 * x1/y1 exclusive), source-space masks, the largest-tumour slice, and ROI rectangles with a margin.
 */
import type { LoadedModel } from '../infer/model-registry';
import type { Slice, Volume } from '../prepare/volume-types';
import type { Region } from '../prepare/steps';
import { expandBox, regionBox } from './region-boxes';
import type { ImagePreparer, PixelTransform, SliceRegions } from './ports';
import type { Detection, ModelIdentity, PixelBox } from './types';
import { fixedBatchOf, identityOf } from './model-identity';

/** Default margin of ROI rectangles around tumour and nodes (surrounding tissue matters: papers 000, 001). */
export const ROI_MARGIN_MM = 10;

export interface SliceLocalisation {
  slice: Slice;
  detections: Detection[];
  regions: SliceRegions;
  /** Tumour areas in source pixels. */
  gtvAreaPx: number;
  gtvlnAreaPx: number;
  /** GTV + GTVln rectangle with ROI_MARGIN_MM margin, when anything was found. */
  roi?: PixelBox;
}

/** The percentile of the localised series' pixel values that the signal measures are relative to. */
export const SIGNAL_REFERENCE_PERCENTILE = 99;

export interface LocalisationResult {
  volume: Volume;
  model: ModelIdentity;
  slices: SliceLocalisation[];
  /** Index into `slices` of the slice with the largest GTV area (undefined when no GTV was found). */
  largestTumourSlice?: number;
  /** The series' SIGNAL_REFERENCE_PERCENTILE, when the preparer had it (else the measures compute it). */
  signalReference?: number;
  timingMs: number;
}

export interface Component {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  count: number;
  sum: number;
  /** Pixel indices of the component. */
  pixels: number[];
}

/** 8-connected components of `prob >= threshold` on a rows x columns grid, keeping those of at least minArea pixels. */
export function connectedComponents(prob: Float32Array, rows: number, columns: number, threshold: number, minArea: number): Component[] {
  const label = new Int32Array(rows * columns);
  const out: Component[] = [];
  const stack: number[] = [];
  let next = 0;
  for (let start = 0; start < prob.length; start++) {
    if (label[start] !== 0 || prob[start]! < threshold) continue;
    next++;
    const c: Component = { minX: columns, minY: rows, maxX: -1, maxY: -1, count: 0, sum: 0, pixels: [] };
    label[start] = next;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % columns;
      const y = (i - x) / columns;
      c.count++;
      c.sum += prob[i]!;
      c.pixels.push(i);
      if (x < c.minX) c.minX = x;
      if (x > c.maxX) c.maxX = x;
      if (y < c.minY) c.minY = y;
      if (y > c.maxY) c.maxY = y;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= columns || ny >= rows) continue;
          const j = ny * columns + nx;
          if (label[j] === 0 && prob[j]! >= threshold) {
            label[j] = next;
            stack.push(j);
          }
        }
      }
    }
    if (c.count >= minArea) out.push(c);
  }
  return out;
}

/** The index of the largest value (undefined when all are 0 or the list is empty). */
export function largestIndex(areas: readonly number[]): number | undefined {
  let best: number | undefined;
  areas.forEach((a, i) => {
    if (a > 0 && (best === undefined || a > areas[best]!)) best = i;
  });
  return best;
}

/** ROI rectangle: the region's box grown by `marginMm` (at least `minSizeMm` a side), clipped to the slice. */
export function roiRectangle(regions: SliceRegions, region: Region, slice: Pick<Slice, 'rows' | 'columns' | 'pixelSpacing'>, marginMm = ROI_MARGIN_MM, minSizeMm = 0): PixelBox | undefined {
  const box = regionBox(regions, region);
  if (!box) return undefined;
  return expandBox(box, slice.pixelSpacing, { marginMm, marginFraction: 0, minSizeMm }, slice.columns, slice.rows);
}

function toSourceBox(c: Component, t: PixelTransform, slice: Slice): PixelBox {
  return {
    x0: Math.max(0, Math.floor(t.offsetX + t.scaleX * c.minX)),
    y0: Math.max(0, Math.floor(t.offsetY + t.scaleY * c.minY)),
    x1: Math.min(slice.columns, Math.ceil(t.offsetX + t.scaleX * (c.maxX + 1))),
    y1: Math.min(slice.rows, Math.ceil(t.offsetY + t.scaleY * (c.maxY + 1))),
  };
}

/** Nearest-neighbour mask of the components on the source slice. */
function toSourceMask(components: Component[], grid: { rows: number; columns: number }, t: PixelTransform, slice: Slice): Uint8Array {
  const inGrid = new Uint8Array(grid.rows * grid.columns);
  for (const c of components) for (const i of c.pixels) inGrid[i] = 1;
  const out = new Uint8Array(slice.rows * slice.columns);
  // The grid column of each source column (-1 outside the grid), computed once for every row.
  const gridColumn = new Int32Array(slice.columns);
  for (let sx = 0; sx < slice.columns; sx++) {
    const ix = Math.floor((sx + 0.5 - t.offsetX) / t.scaleX);
    gridColumn[sx] = ix >= 0 && ix < grid.columns ? ix : -1;
  }
  for (let sy = 0; sy < slice.rows; sy++) {
    const iy = Math.floor((sy + 0.5 - t.offsetY) / t.scaleY);
    if (iy < 0 || iy >= grid.rows) continue;
    const row = iy * grid.columns;
    const o = sy * slice.columns;
    for (let sx = 0; sx < slice.columns; sx++) {
      const ix = gridColumn[sx]!;
      if (ix >= 0 && inGrid[row + ix]) out[o + sx] = 1;
    }
  }
  return out;
}

const union = (boxes: PixelBox[]): PixelBox | undefined =>
  boxes.length
    ? { x0: Math.min(...boxes.map((b) => b.x0)), y0: Math.min(...boxes.map((b) => b.y0)), x1: Math.max(...boxes.map((b) => b.x1)), y1: Math.max(...boxes.map((b) => b.y1)) }
    : undefined;

/** Runs the localiser over every slice of `volume` and turns its masks into detections and regions. */
export async function localise(model: LoadedModel, volume: Volume, preparer: ImagePreparer, batchSize: number): Promise<LocalisationResult> {
  const started = performance.now();
  const m = model.manifest;
  const input = m.inputs.find((i) => i.kind === 'image')!;
  if (input.kind !== 'image' || input.roles.length !== 1) throw new Error(`localiser ${m.id}: one image role expected`);
  const maskOut = m.outputs.find((o) => o.meaning === 'mask')!;
  const labels = maskOut.labels ?? [];
  const threshold = m.localisation?.threshold ?? 0.5;
  const minArea = m.localisation?.minAreaPx ?? 4;
  const prepared = await preparer.prepareBatch(
    volume.slices.map((s) => ({ channels: [s], volumes: [volume], regions: [{}] })),
    m.preparation,
  );
  // Usually computed in the pool with the series' intensity ranges, in the same pass.
  const signalReference = preparer.volumePercentiles ? (await preparer.volumePercentiles(volume, [SIGNAL_REFERENCE_PERCENTILE]))[0] : undefined;
  const outputs = await model.session.runBatched(
    { [input.name]: { data: prepared.data, dims: prepared.dims } },
    { batchSize, ...fixedBatchOf(input.shape[0]!) },
  );
  const mask = outputs[maskOut.name];
  if (!mask || mask.dims.length !== 4 || mask.dims[1] !== labels.length) {
    throw new Error(`localiser ${m.id}: output ${maskOut.name} has shape [${mask?.dims.join(',')}], [N,${labels.length},h,w] expected`);
  }
  const [, , rows, columns] = mask.dims as [number, number, number, number];
  const plane = rows * columns;
  // The mask grid may differ from the input grid: scale the transform accordingly.
  const gx = prepared.dims[3] / columns;
  const gy = prepared.dims[2] / rows;
  const slices: SliceLocalisation[] = volume.slices.map((slice, i) => {
    const t0 = prepared.transforms[i]!;
    const t: PixelTransform = { scaleX: t0.scaleX * gx, scaleY: t0.scaleY * gy, offsetX: t0.offsetX, offsetY: t0.offsetY };
    const detections: Detection[] = [];
    const regions: SliceRegions = {};
    let gtvAreaPx = 0;
    let gtvlnAreaPx = 0;
    labels.forEach((label, k) => {
      const prob = mask.data.subarray((i * labels.length + k) * plane, (i * labels.length + k + 1) * plane);
      const comps = connectedComponents(prob, rows, columns, threshold, minArea);
      if (!comps.length) return;
      const boxes: PixelBox[] = [];
      for (const c of comps) {
        const box = toSourceBox(c, t, slice);
        const areaPx = c.count * t.scaleX * t.scaleY;
        boxes.push(box);
        detections.push({ label, image: slice.image, box, score: c.sum / c.count, areaPx });
        if (label === 'GTV') gtvAreaPx += areaPx;
        else gtvlnAreaPx += areaPx;
      }
      const srcMask = toSourceMask(comps, { rows, columns }, t, slice);
      if (label === 'GTV') {
        regions.gtv = union(boxes)!;
        regions.gtvMask = srcMask;
      } else {
        regions.gtvln = union(boxes)!;
        regions.gtvlnMask = srcMask;
      }
    });
    const roi = roiRectangle(regions, 'gtv+gtvln', slice);
    return { slice, detections, regions, gtvAreaPx, gtvlnAreaPx, ...(roi ? { roi } : {}) };
  });
  const largest = largestIndex(slices.map((s) => s.gtvAreaPx));
  return {
    volume,
    model: identityOf(model),
    slices,
    ...(largest !== undefined ? { largestTumourSlice: largest } : {}),
    ...(signalReference !== undefined ? { signalReference } : {}),
    timingMs: performance.now() - started,
  };
}
