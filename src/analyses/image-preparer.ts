/**
 * The ImagePreparer port (src/analyses/ports.ts) over src/prepare: every item is prepared by prepareSlice
 * (in the worker pool when one is given), the one code path shared with the training export, so a model
 * sees in service exactly what it saw in training. Localiser regions (boxes + masks in source pixels) are
 * handed to the crop/maskOutside steps; the GridMap each slice ends with becomes the PixelTransform back
 * to the reference slice (CAMs and localiser boxes depend on it).
 */
import type { PreparationStep } from '../prepare/steps';
import type { Slice, Volume } from '../prepare/volume-types';
import type { GridMap } from '../prepare/image';
import { prepareSlice, volumeIntensityRanges, type PreparedSlice } from '../prepare/pipeline';
import type { SliceRegions as PrepareRegions } from '../prepare/regions';
import type { WorkerPool } from '../prepare/decode-pool';
import type { ImagePreparer, PixelTransform, PrepareItem, PreparedBatch, SliceRegions } from './ports';

/** Localiser regions (analyses' shape) as src/prepare's regions of a source slice. */
export function toPrepareRegions(r: SliceRegions | undefined, slice: Pick<Slice, 'rows' | 'columns'>): PrepareRegions | undefined {
  if (!r || (!r.gtv && !r.gtvln)) return undefined;
  const shape = (box: SliceRegions['gtv'], mask: Uint8Array | undefined) =>
    box ? { box, ...(mask && mask.length === slice.rows * slice.columns ? { mask: { rows: slice.rows, columns: slice.columns, data: mask } } : {}) } : undefined;
  const gtv = shape(r.gtv, r.gtvMask);
  const gtvln = shape(r.gtvln, r.gtvlnMask);
  return { ...(gtv ? { gtv } : {}), ...(gtvln ? { gtvln } : {}) };
}

/**
 * GridMap (source pixel centres -> model-input pixel centres) as a PixelTransform (model-input pixel edges ->
 * source pixel edges): source = (input - 0.5 - offset) / scale + 0.5 in centre terms.
 */
export function transformFromGridMap(m: GridMap): PixelTransform {
  return {
    scaleX: 1 / m.scaleColumn,
    scaleY: 1 / m.scaleRow,
    offsetX: 0.5 - (0.5 + m.offsetColumn) / m.scaleColumn,
    offsetY: 0.5 - (0.5 + m.offsetRow) / m.scaleRow,
  };
}

export interface ImagePreparerOptions {
  /** Prepare in the node's worker pool (off the event loop); without it, in this thread. */
  pool?: WorkerPool;
}

export function createImagePreparer(options: ImagePreparerOptions = {}): ImagePreparer {
  const ranges = new WeakMap<Volume, Map<string, ([number, number] | undefined)[]>>();
  const rangesOf = (volume: Volume, steps: PreparationStep[]) => {
    const key = JSON.stringify(steps);
    let m = ranges.get(volume);
    if (!m) ranges.set(volume, (m = new Map()));
    let r = m.get(key);
    if (!r) m.set(key, (r = volumeIntensityRanges(volume.slices, steps)));
    return r;
  };
  return {
    async prepareBatch(items: PrepareItem[], steps: PreparationStep[]): Promise<PreparedBatch> {
      const channelCount = items[0]?.channels.length ?? 0;
      // prepared[k][i]: channel k of item i
      const prepared: PreparedSlice[][] = [];
      for (let k = 0; k < channelCount; k++) {
        const out: PreparedSlice[] = new Array(items.length);
        if (options.pool) {
          // One pool task per volume: the worker computes volume-scoped ranges from the whole series.
          const byVolume = new Map<Volume, number[]>();
          items.forEach((it, i) => byVolume.set(it.volumes[k]!, [...(byVolume.get(it.volumes[k]!) ?? []), i]));
          for (const [volume, idx] of byVolume) {
            const all = volume.slices.map((s) => ({ pixels: s.pixels, rows: s.rows, columns: s.columns, pixelSpacing: s.pixelSpacing }));
            const indices = idx.map((i) => {
              const j = volume.slices.indexOf(items[i]!.channels[k]!);
              if (j < 0) throw new Error('prepare: a slice is not in the volume given for it');
              return j;
            });
            const regions = idx.map((i) => toPrepareRegions(items[i]!.regions[k], items[i]!.channels[k]!));
            const res = await options.pool.prepare(all, indices, steps, regions);
            idx.forEach((i, n) => (out[i] = res[n]!));
          }
        } else {
          items.forEach((it, i) => {
            const slice = it.channels[k]!;
            out[i] = prepareSlice(slice, steps, toPrepareRegions(it.regions[k], slice), { volumeRanges: rangesOf(it.volumes[k]!, steps) });
          });
        }
        prepared.push(out);
      }
      const first = prepared[0]?.[0];
      const rows = first?.rows ?? 0;
      const columns = first?.columns ?? 0;
      const perItem = prepared.reduce((n, ch) => n + (ch[0]?.channels ?? 0), 0);
      const plane = rows * columns;
      const data = new Float32Array(items.length * perItem * plane);
      const transforms: PixelTransform[] = [];
      items.forEach((_, i) => {
        let c = 0;
        for (let k = 0; k < channelCount; k++) {
          const p = prepared[k]![i]!;
          if (p.rows !== rows || p.columns !== columns) throw new Error('prepare: items differ in size after preparation (end with a resize)');
          data.set(p.pixels, (i * perItem + c) * plane);
          c += p.channels;
        }
        transforms.push(transformFromGridMap(prepared[0]![i]!.fromSource));
      });
      return { data, dims: [items.length, perItem, rows, columns], transforms };
    },
  };
}
