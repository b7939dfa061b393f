/**
 * Runs a model's declared preparation steps on one slice: the one code path for serving and training
 * export. Geometric steps (resample, crop, padSquare, resize) keep a map from source pixels to the current
 * grid, so regions given in source pixels stay aligned and a model-space map (e.g. a CAM) can be taken back
 * to the source slice.
 */
import type { PreparationStep } from './steps';
import { composeMaps, IDENTITY_MAP, imageFromSlice, type GridMap, type PlanarImage } from './image';
import { mapBox, resolveRegion, sourcePixel, RegionMissingError, type SliceRegions } from './regions';
import { resample } from './steps/resample';
import { intensityRange, normalize } from './steps/normalize';
import { percentiles } from './steps/percentile';
import { clahe } from './steps/clahe';
import { histeq } from './steps/histeq';
import { maskOutside } from './steps/mask-outside';
import { crop, cropBox, type IndexBox } from './steps/crop';
import { padSquare } from './steps/pad-square';
import { resize } from './steps/resize';
import { imagenet } from './steps/imagenet';
import { scale } from './steps/scale';

export interface SliceInput {
  pixels: Float32Array;
  rows: number;
  columns: number;
  pixelSpacing: [number, number];
}

export interface PreparedSlice extends PlanarImage {
  /** Source pixel-centre coordinates -> this image's pixel-centre coordinates. */
  fromSource: GridMap;
}

/** The [low, high] clip values of each volume-scoped normalize step, indexed like the steps (undefined for other steps). */
export type VolumeRanges = ([number, number] | undefined)[];

export interface PrepareOptions {
  /**
   * For normalize steps with scope 'volume': the [low, high] clip values per step index, from
   * volumeIntensityRanges(). Required when such a step is present.
   */
  volumeRanges?: VolumeRanges;
}

/**
 * What a volume-scoped normalize step's range depends on besides the volume: its percentiles (the same
 * for every step with these percentiles, whatever the other steps are). Undefined for other steps.
 */
export function volumeRangeKey(step: PreparationStep): string | undefined {
  return step.op === 'normalize' && step.scope === 'volume' ? `${step.lowerPercentile}/${step.upperPercentile}` : undefined;
}

/** The [low, high] values of every volume-scoped normalize step (indexed like `steps`). */
export function volumeIntensityRanges(slices: { pixels: Float32Array }[], steps: PreparationStep[]): VolumeRanges {
  return volumeStatistics(slices, steps).volumeRanges;
}

/**
 * volumeIntensityRanges and the volume's values at `extraPercentiles`, in one pass over the series
 * (each percentile is exact whatever others are asked with it).
 */
export function volumeStatistics(slices: { pixels: Float32Array }[], steps: PreparationStep[], extraPercentiles: number[] = []): { volumeRanges: VolumeRanges; percentiles: number[] } {
  const ps: number[] = [];
  for (const s of steps) if (s.op === 'normalize' && s.scope === 'volume') ps.push(s.lowerPercentile, s.upperPercentile);
  ps.push(...extraPercentiles);
  const values = ps.length ? percentiles(slices.map((x) => x.pixels), ps) : [];
  let k = 0;
  const volumeRanges = steps.map((s): [number, number] | undefined => {
    if (s.op !== 'normalize' || s.scope !== 'volume') return undefined;
    k += 2;
    return [values[k - 2]!, values[k - 1]!];
  });
  return { volumeRanges, percentiles: values.slice(k) };
}

/**
 * How a step may limit its work to the pixels a later crop keeps: 'pointwise' steps compute each output
 * pixel from the same input pixel alone (so they can follow another windowed step), 'first' steps read
 * their whole input (a histogram, the slice's percentiles) but can still write only the window. Every such
 * step keeps the image's size, spacing and grid map, so the crop box is the same before them as at the crop.
 */
function windowKind(step: PreparationStep): 'pointwise' | 'first' | undefined {
  if (step.op === 'normalize') return step.scope === 'volume' ? 'pointwise' : 'first';
  if (step.op === 'maskOutside') return 'pointwise';
  if (step.op === 'clahe') return 'first';
  return undefined;
}

/** For each step, the index of the crop that alone reads its output (the steps between it and the crop all window), if any. */
function windowedBy(steps: PreparationStep[]): (number | undefined)[] {
  const out: (number | undefined)[] = steps.map(() => undefined);
  steps.forEach((s, j) => {
    if (s.op !== 'crop') return;
    for (let i = j - 1; i >= 0; i--) {
      const kind = windowKind(steps[i]!);
      if (!kind) break;
      out[i] = j;
      if (kind === 'first') break;
    }
  });
  return out;
}

export function prepareSlice(slice: SliceInput, steps: PreparationStep[], regions?: SliceRegions, options: PrepareOptions = {}): PreparedSlice {
  let img: PlanarImage = imageFromSlice(slice);
  let map: GridMap = IDENTITY_MAP;
  const cropOf = windowedBy(steps);
  const windows = new Map<number, IndexBox | undefined>();
  /** The box of the crop that will read step `index`'s output (computed as the crop will: same image size, spacing and map), else undefined. */
  const windowFor = (index: number): IndexBox | undefined => {
    const j = cropOf[index];
    if (j === undefined) return undefined;
    if (!windows.has(j)) {
      const step = steps[j]!;
      let box: IndexBox | undefined;
      if (step.op === 'crop') {
        const region = resolveRegion(step.region, regions, slice);
        try {
          box = region ? cropBox(img, mapBox(region.box, map), step) : undefined;
        } catch {
          box = undefined; // the crop itself will report it
        }
      }
      windows.set(j, box);
    }
    return windows.get(j);
  };
  steps.forEach((step, index) => {
    switch (step.op) {
      case 'resample': {
        const r = resample(img, step.spacingMm);
        img = r.image;
        map = composeMaps(map, r.map);
        break;
      }
      case 'normalize': {
        let range: [number, number] | undefined;
        if (step.scope === 'volume') {
          range = options.volumeRanges?.[index];
          if (!range) throw new Error(`step ${index + 1} (normalize, scope volume) needs the volume's intensity range: use volumeIntensityRanges()`);
        } else {
          range = intensityRange(img.pixels, step.lowerPercentile, step.upperPercentile);
        }
        img = normalize(img, range, step.min, step.max, windowFor(index));
        break;
      }
      case 'clahe':
        img = clahe(img, step.clipLimit, step.tiles, windowFor(index));
        break;
      case 'histeq':
        img = histeq(img);
        break;
      case 'maskOutside': {
        const region = resolveRegion(step.region, regions, slice);
        if (!region) throw new RegionMissingError(step.region);
        const m = map;
        img = maskOutside(img, (r, c) => {
          const [sr, sc] = sourcePixel(r, c, m);
          return region.inside(sr, sc);
        }, step.value, windowFor(index));
        break;
      }
      case 'crop': {
        const region = resolveRegion(step.region, regions, slice);
        if (!region) throw new RegionMissingError(step.region);
        const r = crop(img, cropBox(img, mapBox(region.box, map), step));
        img = r.image;
        map = composeMaps(map, r.map);
        break;
      }
      case 'padSquare': {
        const r = padSquare(img, step.value);
        img = r.image;
        map = composeMaps(map, r.map);
        break;
      }
      case 'resize': {
        const r = resize(img, step.rows, step.columns);
        img = r.image;
        map = composeMaps(map, r.map);
        break;
      }
      case 'imagenet':
        img = imagenet(img);
        break;
      case 'scale':
        img = scale(img, step.scale, step.offset);
        break;
    }
  });
  if (img.pixels === slice.pixels) img = { ...img, pixels: new Float32Array(img.pixels) };
  return { ...img, fromSource: map };
}

/** Steps that need a localiser region on the slice (crop or maskOutside of anything but 'whole'). */
export function stepsNeedRegions(steps: PreparationStep[]): boolean {
  return steps.some((s) => (s.op === 'crop' || s.op === 'maskOutside') && s.region !== 'whole');
}
