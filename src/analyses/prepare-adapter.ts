/**
 * The analyses' ImagePreparer port over src/prepare: the one preparation library that training export
 * uses too. Converts the localiser's regions into src/prepare's shape, runs each channel's slices through
 * the manifest's steps (in the worker pool when one is given, so the event loop stays free), stacks the
 * channels and reports, per item, the map from model-input pixels back to the source slice.
 */
import { prepareSlice, volumeIntensityRanges, type PreparedSlice, type SliceRegions as PrepareRegions, type WorkerPool } from '../prepare';
import type { GridMap } from '../prepare/image';
import type { PreparationStep } from '../prepare/steps';
import type { Slice, Volume } from '../prepare/volume-types';
import type { ImagePreparer, PixelTransform, PrepareItem, PreparedBatch, SliceRegions } from './ports';

/** src/prepare maps source pixel centres to input pixel centres; the port wants input edges to source edges. */
export function transformFromGridMap(m: GridMap): PixelTransform {
  return {
    scaleX: 1 / m.scaleColumn,
    scaleY: 1 / m.scaleRow,
    offsetX: 0.5 - (0.5 + m.offsetColumn) / m.scaleColumn,
    offsetY: 0.5 - (0.5 + m.offsetRow) / m.scaleRow,
  };
}

export function toPrepareRegions(r: SliceRegions | undefined, slice: Slice): PrepareRegions | undefined {
  if (!r) return undefined;
  const mask = (data: Uint8Array | undefined) => (data ? { rows: slice.rows, columns: slice.columns, data } : undefined);
  const out: PrepareRegions = {};
  if (r.gtv) out.gtv = { box: r.gtv, ...(r.gtvMask ? { mask: mask(r.gtvMask) } : {}) };
  if (r.gtvln) out.gtvln = { box: r.gtvln, ...(r.gtvlnMask ? { mask: mask(r.gtvlnMask) } : {}) };
  return out;
}

export function createPreparer(opts: { pool?: WorkerPool } = {}): ImagePreparer {
  const rangeCache = new WeakMap<Volume, Map<string, ([number, number] | undefined)[]>>();
  const rangesFor = (volume: Volume, steps: PreparationStep[]) => {
    let byKey = rangeCache.get(volume);
    if (!byKey) rangeCache.set(volume, (byKey = new Map()));
    const key = JSON.stringify(steps);
    let r = byKey.get(key);
    if (!r) byKey.set(key, (r = volumeIntensityRanges(volume.slices, steps)));
    return r;
  };

  /** Prepares channel `c` of every item, grouped by volume. */
  async function prepareChannel(items: PrepareItem[], c: number, steps: PreparationStep[]): Promise<PreparedSlice[]> {
    const out: PreparedSlice[] = new Array(items.length);
    const groups = new Map<Volume, number[]>();
    items.forEach((it, k) => {
      const v = it.volumes[c]!;
      groups.set(v, [...(groups.get(v) ?? []), k]);
    });
    for (const [volume, ks] of groups) {
      const indices = ks.map((k) => {
        const i = volume.slices.indexOf(items[k]!.channels[c]!);
        if (i < 0) throw new Error('prepare: a channel slice is not part of its volume');
        return i;
      });
      const regions = ks.map((k) => toPrepareRegions(items[k]!.regions[c], items[k]!.channels[c]!));
      let prepared: PreparedSlice[];
      if (opts.pool) {
        const all = volume.slices.map((s) => ({ pixels: s.pixels, rows: s.rows, columns: s.columns, pixelSpacing: s.pixelSpacing }));
        prepared = await opts.pool.prepare(all, indices, steps, regions);
      } else {
        const volumeRanges = rangesFor(volume, steps);
        prepared = indices.map((i, n) => prepareSlice(volume.slices[i]!, steps, regions[n], { volumeRanges }));
      }
      ks.forEach((k, n) => (out[k] = prepared[n]!));
    }
    return out;
  }

  return {
    async prepareBatch(items: PrepareItem[], steps: PreparationStep[]): Promise<PreparedBatch> {
      if (!items.length) return { data: new Float32Array(0), dims: [0, 0, 0, 0], transforms: [] };
      const nChannels = items[0]!.channels.length;
      const perChannel: PreparedSlice[][] = [];
      for (let c = 0; c < nChannels; c++) perChannel.push(await prepareChannel(items, c, steps));
      const first = perChannel[0]![0]!;
      const { rows, columns } = first;
      const channelsPerItem = perChannel.reduce((a, p) => a + p[0]!.channels, 0);
      const plane = rows * columns;
      const data = new Float32Array(items.length * channelsPerItem * plane);
      items.forEach((_, k) => {
        let offset = k * channelsPerItem * plane;
        for (let c = 0; c < nChannels; c++) {
          const p = perChannel[c]![k]!;
          if (p.rows !== rows || p.columns !== columns) throw new Error('prepare: prepared slices differ in size (end the steps with a resize)');
          data.set(p.pixels, offset);
          offset += p.pixels.length;
        }
      });
      return { data, dims: [items.length, channelsPerItem, rows, columns], transforms: perChannel[0]!.map((p) => transformFromGridMap(p.fromSource)) };
    },
  };
}
