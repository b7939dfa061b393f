/**
 * A model's inputs from one volume: the same code path for serving (infer/) and for the training-export
 * command, so a model sees in service exactly what it saw in training. Slices without the region a
 * crop/maskOutside step needs are skipped (their refs are not returned).
 */
import type { ImageRef } from '../core/image-ref';
import type { PreparationStep } from './steps';
import type { Volume } from './volume-types';
import type { SliceRegions } from './regions';
import { prepareSlice, stepsNeedRegions, volumeIntensityRanges, type PreparedSlice } from './pipeline';
import { resolveRegion } from './regions';
import type { WorkerPool } from './decode-pool';

export interface ModelInputs {
  tensors: PreparedSlice[];
  sliceRefs: ImageRef[];
  /** Index into volume.slices of each tensor. */
  sliceIndices: number[];
}

function regionNames(steps: PreparationStep[]) {
  return steps.flatMap((s) => ((s.op === 'crop' || s.op === 'maskOutside') && s.region !== 'whole' ? [s.region] : []));
}

/** The slices that have every region the steps need. */
function usableSlices(volume: Volume, regionsPerSlice: (SliceRegions | undefined)[], steps: PreparationStep[]): number[] {
  const needed = regionNames(steps);
  return volume.slices.flatMap((s, i) => (needed.every((r) => resolveRegion(r, regionsPerSlice[i], s)) ? [i] : []));
}

/**
 * Prepare every usable slice of `volume`. With a pool the work runs in a worker thread (off the event
 * loop); without one it runs here (training export from a CLI).
 */
export async function exportModelInputs(
  volume: Volume,
  regionsPerSlice: (SliceRegions | undefined)[],
  steps: PreparationStep[],
  options: { pool?: WorkerPool; sliceIndices?: number[] } = {},
): Promise<ModelInputs> {
  if (stepsNeedRegions(steps) && regionsPerSlice.length !== volume.slices.length) {
    throw new Error(`regionsPerSlice has ${regionsPerSlice.length} entries for ${volume.slices.length} slices`);
  }
  const usable = usableSlices(volume, regionsPerSlice, steps);
  const indices = options.sliceIndices ? options.sliceIndices.filter((i) => usable.includes(i)) : usable;
  // Volume-scoped intensity ranges come from the whole series, whichever slices are prepared.
  const slices = indices.map((i) => volume.slices[i]!);
  const regions = indices.map((i) => regionsPerSlice[i]);
  let tensors: PreparedSlice[];
  if (options.pool) {
    const inputs = slices.map((s) => ({ pixels: s.pixels, rows: s.rows, columns: s.columns, pixelSpacing: s.pixelSpacing }));
    tensors = (await options.pool.prepare(inputs, steps, regions, { volumePixels: volume.slices.map((s) => s.pixels) })).prepared;
  } else {
    const volumeRanges = volumeIntensityRanges(volume.slices, steps);
    tensors = slices.map((s, k) => prepareSlice(s, steps, regions[k], { volumeRanges }));
  }
  return { tensors, sliceRefs: slices.map((s) => s.image), sliceIndices: indices };
}
