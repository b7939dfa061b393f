/** Messages between the preparation pool and its workers. */
import type { PreparationStep } from './steps';
import type { SliceRegions } from './regions';
import type { SliceInput } from './pipeline';

export type PoolRequest =
  | { id: number; type: 'decode'; path: string }
  | { id: number; type: 'prepare'; slices: SliceInput[]; steps: PreparationStep[]; regions: (SliceRegions | undefined)[]; volumeRanges?: ([number, number] | undefined)[] };

export type PoolResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { name: string; message: string } };
