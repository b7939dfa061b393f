/**
 * TEMPORARY image preparation behind the ImagePreparer port (src/analyses/ports.ts), written so the
 * analyses can be built and tested before src/prepare lands. It implements only normalize, histeq,
 * maskOutside, crop, padSquare, resize, scale and imagenet, simply (no resample, no CLAHE: those throw).
 * At merge, replace `createTemporaryPreparer` by an adapter over src/prepare that keeps the same contract,
 * in particular the per-item PixelTransform back to the source slice (CAMs and boxes depend on it).
 */
import type { PreparationStep, Region } from '../prepare/steps';
import type { Volume } from '../prepare/volume-types';
import type { ImagePreparer, PixelTransform, PrepareItem, PreparedBatch, SliceRegions } from './ports';
import type { PixelBox } from './types';

interface Work {
  data: Float32Array;
  rows: number;
  columns: number;
  /** Current pixels -> source pixels. */
  t: PixelTransform;
  /** Current pixel size in mm [row, column]. */
  spacing: [number, number];
  regions: SliceRegions;
  /** Source slice size (for masks). */
  sourceColumns: number;
  sourceRows: number;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

export function createTemporaryPreparer(): ImagePreparer {
  const volumeRanges = new WeakMap<Volume, Map<string, [number, number]>>();
  return {
    async prepareBatch(items: PrepareItem[], steps: PreparationStep[]): Promise<PreparedBatch> {
      const out: Float32Array[] = [];
      const transforms: PixelTransform[] = [];
      let shape: [number, number, number] | undefined;
      for (const item of items) {
        const channels: Work[] = [];
        item.channels.forEach((slice, c) => {
          let w: Work = {
            data: slice.pixels,
            rows: slice.rows,
            columns: slice.columns,
            t: { scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0 },
            spacing: [slice.pixelSpacing[0], slice.pixelSpacing[1]],
            regions: item.regions[c] ?? {},
            sourceColumns: slice.columns,
            sourceRows: slice.rows,
          };
          let replicate = false;
          for (const step of steps) {
            if (step.op === 'imagenet') replicate = true;
            else w = applyStep(w, step, item.volumes[c]!, volumeRanges);
          }
          if (replicate) {
            for (let k = 0; k < 3; k++) {
              const d = new Float32Array(w.data.length);
              for (let i = 0; i < d.length; i++) d[i] = (w.data[i]! / 255 - IMAGENET_MEAN[k]!) / IMAGENET_STD[k]!;
              channels.push({ ...w, data: d });
            }
          } else channels.push(w);
        });
        const first = channels[0]!;
        for (const ch of channels) {
          if (ch.rows !== first.rows || ch.columns !== first.columns) throw new Error('prepare: channels differ in size after preparation (end with a resize)');
        }
        const s: [number, number, number] = [channels.length, first.rows, first.columns];
        if (shape && (shape[0] !== s[0] || shape[1] !== s[1] || shape[2] !== s[2])) throw new Error('prepare: items differ in size after preparation (end with a resize)');
        shape = s;
        for (const ch of channels) out.push(ch.data);
        transforms.push(first.t);
      }
      const [c, r, col] = shape ?? [0, 0, 0];
      const data = new Float32Array(items.length * c * r * col);
      let offset = 0;
      for (const d of out) {
        data.set(d, offset);
        offset += d.length;
      }
      return { data, dims: [items.length, c, r, col], transforms };
    },
  };
}

function applyStep(w: Work, step: PreparationStep, volume: Volume, cache: WeakMap<Volume, Map<string, [number, number]>>): Work {
  switch (step.op) {
    case 'normalize': {
      const key = `${step.lowerPercentile}/${step.upperPercentile}`;
      let range: [number, number];
      if (step.scope === 'volume') {
        let m = cache.get(volume);
        if (!m) cache.set(volume, (m = new Map()));
        range = m.get(key) ?? percentiles(volumeSample(volume), step.lowerPercentile, step.upperPercentile);
        m.set(key, range);
      } else range = percentiles(w.data, step.lowerPercentile, step.upperPercentile);
      const [lo, hi] = range;
      const span = hi - lo || 1;
      const d = new Float32Array(w.data.length);
      for (let i = 0; i < d.length; i++) {
        const v = Math.min(1, Math.max(0, (w.data[i]! - lo) / span));
        d[i] = step.min + v * (step.max - step.min);
      }
      return { ...w, data: d };
    }
    case 'histeq':
      return { ...w, data: equaliseHistogram(w.data) };
    case 'scale': {
      const d = new Float32Array(w.data.length);
      for (let i = 0; i < d.length; i++) d[i] = w.data[i]! * step.scale + step.offset;
      return { ...w, data: d };
    }
    case 'maskOutside': {
      const d = new Float32Array(w.data);
      const inside = regionTest(w.regions, step.region, w.sourceColumns);
      for (let y = 0; y < w.rows; y++) {
        for (let x = 0; x < w.columns; x++) {
          const sx = Math.floor(w.t.offsetX + w.t.scaleX * (x + 0.5));
          const sy = Math.floor(w.t.offsetY + w.t.scaleY * (y + 0.5));
          if (!inside(sx, sy)) d[y * w.columns + x] = step.value;
        }
      }
      return { ...w, data: d };
    }
    case 'crop': {
      const src = regionBox(w.regions, step.region) ?? { x0: 0, y0: 0, x1: w.sourceColumns, y1: w.sourceRows };
      // Source box -> current pixels.
      let x0 = (src.x0 - w.t.offsetX) / w.t.scaleX;
      let x1 = (src.x1 - w.t.offsetX) / w.t.scaleX;
      let y0 = (src.y0 - w.t.offsetY) / w.t.scaleY;
      let y1 = (src.y1 - w.t.offsetY) / w.t.scaleY;
      const box = expandBox({ x0, y0, x1, y1 }, w.spacing, step, w.columns, w.rows);
      ({ x0, y0, x1, y1 } = box);
      const cols = x1 - x0;
      const rows = y1 - y0;
      const d = new Float32Array(cols * rows);
      for (let y = 0; y < rows; y++) d.set(w.data.subarray((y + y0) * w.columns + x0, (y + y0) * w.columns + x1), y * cols);
      return { ...w, data: d, rows, columns: cols, t: compose(w.t, 1, 1, x0, y0) };
    }
    case 'padSquare': {
      const n = Math.max(w.rows, w.columns);
      const px = Math.floor((n - w.columns) / 2);
      const py = Math.floor((n - w.rows) / 2);
      const d = new Float32Array(n * n).fill(step.value);
      for (let y = 0; y < w.rows; y++) d.set(w.data.subarray(y * w.columns, (y + 1) * w.columns), (y + py) * n + px);
      return { ...w, data: d, rows: n, columns: n, t: compose(w.t, 1, 1, -px, -py) };
    }
    case 'resize': {
      const sx = w.columns / step.columns;
      const sy = w.rows / step.rows;
      return {
        ...w,
        data: resizeBilinear(w.data, w.rows, w.columns, step.rows, step.columns),
        rows: step.rows,
        columns: step.columns,
        t: compose(w.t, sx, sy, 0, 0),
        spacing: [w.spacing[0] * sy, w.spacing[1] * sx],
      };
    }
    case 'resample':
    case 'clahe':
    case 'imagenet':
      throw new Error(`prepare: step "${step.op}" is not implemented by the temporary adapter (src/prepare provides it)`);
  }
}

/** source = t(a * x + b): composes the current transform with a new step's mapping to the previous pixels. */
function compose(t: PixelTransform, ax: number, ay: number, bx: number, by: number): PixelTransform {
  return { scaleX: t.scaleX * ax, scaleY: t.scaleY * ay, offsetX: t.offsetX + t.scaleX * bx, offsetY: t.offsetY + t.scaleY * by };
}

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

function regionTest(regions: SliceRegions, region: Region, columns: number): (x: number, y: number) => boolean {
  if (region === 'whole') return () => true;
  const parts: ((x: number, y: number) => boolean)[] = [];
  const add = (mask: Uint8Array | undefined, box: PixelBox | undefined) => {
    if (mask) parts.push((x, y) => mask[y * columns + x] === 1);
    else if (box) parts.push((x, y) => x >= box.x0 && x < box.x1 && y >= box.y0 && y < box.y1);
  };
  if (region !== 'gtvln') add(regions.gtvMask, regions.gtv);
  if (region !== 'gtv') add(regions.gtvlnMask, regions.gtvln);
  return (x, y) => parts.some((p) => p(x, y));
}

function volumeSample(volume: Volume): Float32Array {
  const total = volume.slices.reduce((n, s) => n + s.pixels.length, 0);
  const stride = Math.max(1, Math.floor(total / 1_000_000));
  const out = new Float32Array(Math.ceil(total / stride) + volume.slices.length);
  let n = 0;
  for (const s of volume.slices) for (let i = 0; i < s.pixels.length; i += stride) out[n++] = s.pixels[i]!;
  return out.subarray(0, n);
}

export function percentiles(values: Float32Array, lower: number, upper: number): [number, number] {
  const sorted = Float32Array.from(values).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))))]!;
  return [at(lower), at(upper)];
}

function equaliseHistogram(data: Float32Array): Float32Array {
  const hist = new Float64Array(256);
  for (const v of data) hist[Math.min(255, Math.max(0, Math.round(v)))]!++;
  const cdf = new Float64Array(256);
  let acc = 0;
  for (let i = 0; i < 256; i++) cdf[i] = acc += hist[i]!;
  const min = cdf.find((c) => c > 0) ?? 0;
  const d = new Float32Array(data.length);
  const denom = data.length - min || 1;
  for (let i = 0; i < d.length; i++) d[i] = Math.round(((cdf[Math.min(255, Math.max(0, Math.round(data[i]!)))]! - min) / denom) * 255);
  return d;
}

/** Bilinear resize with pixel centres aligned (align_corners = false). */
export function resizeBilinear(src: Float32Array, rows: number, columns: number, outRows: number, outColumns: number): Float32Array {
  const out = new Float32Array(outRows * outColumns);
  const sy = rows / outRows;
  const sx = columns / outColumns;
  for (let y = 0; y < outRows; y++) {
    const fy = Math.min(rows - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(rows - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < outColumns; x++) {
      const fx = Math.min(columns - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(columns - 1, x0 + 1);
      const wx = fx - x0;
      const top = src[y0 * columns + x0]! * (1 - wx) + src[y0 * columns + x1]! * wx;
      const bottom = src[y1 * columns + x0]! * (1 - wx) + src[y1 * columns + x1]! * wx;
      out[y * outColumns + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}
