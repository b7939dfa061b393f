/** Messages between the preparation pool and its workers. */
import type { PreparationStep } from './steps';
import type { SliceRegions } from './regions';
import type { SliceInput } from './pipeline';

export type PoolRequest =
  | { id: number; type: 'decode'; path: string }
  /** Prepare slices[indices[k]] with regions[k]; volume-scoped ranges are computed from all `slices`. */
  | { id: number; type: 'prepare'; slices: SliceInput[]; indices: number[]; steps: PreparationStep[]; regions: (SliceRegions | undefined)[] };

export type PoolResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { name: string; message: string } };
