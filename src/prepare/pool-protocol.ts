/** Messages between the preparation pool and its workers. */
import type { PreparationStep } from './steps';
import type { SliceRegions } from './regions';
import type { PreparedSlice, SliceInput, VolumeRanges } from './pipeline';

/**
 * How a prepare request gets the intensity ranges of its volume-scoped normalize steps: given (computed
 * once per volume by the caller), or computed in the worker from every slice's pixels of the series.
 */
export type RangeSource = { volumeRanges: VolumeRanges } | { volumePixels: Float32Array[]; /** Further percentiles of the series to compute in the same pass. */ percentiles?: number[] };

export type PoolRequest =
  | { id: number; type: 'decode'; path: string }
  /** Prepare slices[k] with regions[k]. */
  | { id: number; type: 'prepare'; slices: SliceInput[]; steps: PreparationStep[]; regions: (SliceRegions | undefined)[]; ranges: RangeSource };

/** A prepare request's answer: the prepared slices and the volume ranges they used (indexed like the steps). */
export interface PrepareResult {
  prepared: PreparedSlice[];
  volumeRanges: VolumeRanges;
  /** The values at RangeSource.percentiles, when asked. */
  percentiles?: number[];
}

export type PoolResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { name: string; message: string } };
