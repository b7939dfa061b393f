/**
 * The analyses' ImagePreparer port over src/prepare: the one preparation library that training export
 * uses too. Converts the localiser's regions into src/prepare's shape, runs each channel's slices through
 * the manifest's steps (in the worker pool when one is given, so the event loop stays free), stacks the
 * channels and reports, per item, the map from model-input pixels back to the source slice.
 */
import { prepareSlice, stepsNeedRegions, volumeStatistics, volumeRangeKey, type PreparedSlice, type SliceRegions as PrepareRegions, type VolumeRanges, type WorkerPool } from '../prepare';
import type { GridMap } from '../prepare/image';
import { percentiles } from '../prepare/steps/percentile';
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

/**
 * One preparer serves one study: everything it prepares is computed once however many models ask for it.
 * - A volume's intensity ranges (volume-scoped normalize steps) are computed once per (volume, percentiles):
 *   with a pool, by the first request for that volume, which sends every slice of the series along; later
 *   requests send only the slices they prepare, with the ranges.
 * - Percentiles of a volume's pixels (volumePercentiles) are computed once per (volume, percentile); those
 *   in `expectPercentiles` (the localiser measures' signal reference) in the same pass as its first ranges.
 * - A prepared slice is kept per (slice, steps, regions): models with the same preparation of the same
 *   slices (the residual analysis' two networks) share it. Regions count by identity (the localiser's
 *   regions of the slice; the same object for every model on the localiser's series), or not at all when
 *   no step reads them.
 */
export function createPreparer(opts: { pool?: WorkerPool; expectPercentiles?: number[] } = {}): ImagePreparer {
  const rangeCache = new WeakMap<Volume, Map<string, Promise<[number, number]>>>();
  const percentileCache = new WeakMap<Volume, Map<number, Promise<number>>>();
  const percentilesOf = (volume: Volume) => {
    let m = percentileCache.get(volume);
    if (!m) percentileCache.set(volume, (m = new Map()));
    return m;
  };
  /** The expected percentiles of `volume` not yet known or under way: computed with its first ranges. */
  const expectedFor = (volume: Volume) => (opts.expectPercentiles ?? []).filter((p) => !percentilesOf(volume).has(p));
  /** Records percentiles under way (a failure leaves them to the next request). */
  const keepPercentiles = (volume: Volume, ps: number[], values: Promise<number[]>) => {
    const m = percentilesOf(volume);
    ps.forEach((p, i) => {
      if (m.has(p)) return;
      const v = values.then((vs) => vs[i]!);
      v.catch(() => m.delete(p));
      m.set(p, v);
    });
  };
  const preparedCache = new WeakMap<Slice, Map<string, Map<object | undefined, Promise<PreparedSlice>>>>();
  const NO_REGIONS = {};

  /** The cached ranges of `volume` for `steps`, or undefined when one of them has not been computed yet. */
  function cachedRanges(volume: Volume, steps: PreparationStep[]): Promise<VolumeRanges> | undefined {
    const byKey = rangeCache.get(volume);
    const ranges = steps.map((s) => {
      const key = volumeRangeKey(s);
      return key === undefined ? null : byKey?.get(key);
    });
    if (ranges.some((r) => r === undefined)) return undefined;
    return Promise.all(ranges.map((r) => r ?? undefined));
  }

  /** Records the ranges a preparation used (a promise of them: later requests wait for it). */
  function keepRanges(volume: Volume, steps: PreparationStep[], ranges: Promise<VolumeRanges>): void {
    let byKey = rangeCache.get(volume);
    if (!byKey) rangeCache.set(volume, (byKey = new Map()));
    steps.forEach((s, i) => {
      const key = volumeRangeKey(s);
      if (key === undefined || byKey.has(key)) return;
      const r = ranges.then((rs) => rs[i]!);
      r.catch(() => byKey.delete(key)); // a failed request leaves the range to the next one
      byKey.set(key, r);
    });
  }

  /** Prepares volume.slices-members `slices` with `regions` (each in src/prepare's shape). */
  async function prepareSlices(volume: Volume, slices: Slice[], steps: PreparationStep[], regions: (PrepareRegions | undefined)[]): Promise<PreparedSlice[]> {
    const known = cachedRanges(volume, steps);
    if (!opts.pool) {
      let volumeRanges = known ? await known : undefined;
      if (!volumeRanges) {
        const expected = expectedFor(volume);
        const stats = volumeStatistics(volume.slices, steps, expected);
        volumeRanges = stats.volumeRanges;
        keepRanges(volume, steps, Promise.resolve(volumeRanges));
        keepPercentiles(volume, expected, Promise.resolve(stats.percentiles));
      }
      const r = volumeRanges;
      return slices.map((s, n) => prepareSlice(s, steps, regions[n], { volumeRanges: r }));
    }
    const inputs = slices.map((s) => ({ pixels: s.pixels, rows: s.rows, columns: s.columns, pixelSpacing: s.pixelSpacing }));
    if (known) return (await opts.pool.prepare(inputs, steps, regions, { volumeRanges: await known })).prepared;
    const expected = expectedFor(volume);
    const answer = opts.pool.prepare(inputs, steps, regions, { volumePixels: volume.slices.map((s) => s.pixels), ...(expected.length ? { percentiles: expected } : {}) });
    keepRanges(volume, steps, answer.then((a) => a.volumeRanges));
    keepPercentiles(volume, expected, answer.then((a) => a.percentiles ?? []));
    return (await answer).prepared;
  }

  /** Prepares channel `c` of every item, grouped by volume, each (slice, steps, regions) once. */
  async function prepareChannel(items: PrepareItem[], c: number, steps: PreparationStep[]): Promise<PreparedSlice[]> {
    const stepsKey = JSON.stringify(steps);
    const readsRegions = stepsNeedRegions(steps);
    const out: Promise<PreparedSlice>[] = new Array(items.length);
    const groups = new Map<Volume, { slice: Slice; regions: PrepareRegions | undefined; k: number[]; cached: Map<object | undefined, Promise<PreparedSlice>>; regionsKey: object | undefined }[]>();
    items.forEach((it, k) => {
      const volume = it.volumes[c]!;
      const slice = it.channels[c]!;
      if (!volume.slices.includes(slice)) throw new Error('prepare: a channel slice is not part of its volume');
      const regionsKey = readsRegions ? (it.regions[c] ?? NO_REGIONS) : NO_REGIONS;
      let bySteps = preparedCache.get(slice);
      if (!bySteps) preparedCache.set(slice, (bySteps = new Map()));
      let cached = bySteps.get(stepsKey);
      if (!cached) bySteps.set(stepsKey, (cached = new Map()));
      const hit = cached.get(regionsKey);
      if (hit) {
        out[k] = hit;
        return;
      }
      const list = groups.get(volume) ?? [];
      groups.set(volume, list);
      const same = list.find((x) => x.slice === slice && x.regionsKey === regionsKey);
      if (same) same.k.push(k);
      else list.push({ slice, regions: toPrepareRegions(it.regions[c], slice), k: [k], cached, regionsKey });
    });
    for (const [volume, list] of groups) {
      const done = prepareSlices(volume, list.map((x) => x.slice), steps, list.map((x) => x.regions));
      list.forEach((x, n) => {
        const p = done.then((prepared) => prepared[n]!);
        p.catch(() => x.cached.delete(x.regionsKey)); // not kept when it failed
        x.cached.set(x.regionsKey, p);
        for (const k of x.k) out[k] = p;
      });
      await done;
    }
    return Promise.all(out);
  }

  return {
    async volumePercentiles(volume: Volume, ps: number[]): Promise<number[]> {
      const m = percentilesOf(volume);
      const missing = [...new Set(ps.filter((p) => !m.has(p)))];
      if (missing.length) keepPercentiles(volume, missing, Promise.resolve(percentiles(volume.slices.map((s) => s.pixels), missing)));
      return Promise.all(ps.map((p) => m.get(p)!));
    },

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
