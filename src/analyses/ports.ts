/**
 * What the analyses need from other parts of the node, as interfaces: image preparation (src/prepare owns
 * the real implementation; src/analyses/prepare-adapter.ts adapts it to these ports) and a patient's other
 * study for the progression analysis (the local store, or a PACS through Q/R).
 */
import type { PixelBox } from './types';
import type { PreparationStep, Region } from '../prepare/steps';
import type { Slice, Volume } from '../prepare/volume-types';

/** The localiser's regions on one source slice, in that slice's pixel space. */
export interface SliceRegions {
  gtv?: PixelBox;
  gtvln?: PixelBox;
  /** Masks (rows x columns of the source slice, 1 = inside), when the localiser gives masks. */
  gtvMask?: Uint8Array;
  gtvlnMask?: Uint8Array;
}

/**
 * Maps continuous pixel coordinates of the prepared (model-input) image back to the source slice:
 * sourceX = offsetX + scaleX * inputX, sourceY = offsetY + scaleY * inputY (pixel edges at integers).
 */
export interface PixelTransform {
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
}

export interface PrepareItem {
  /** One slice per channel role, in the model input's role order; channels[0] is the reference slice. */
  channels: Slice[];
  /** The volume each channel's slice belongs to (for volume-scope normalisation). */
  volumes: Volume[];
  /** Regions on each channel's slice (crop, maskOutside); the same index as `channels`. */
  regions: SliceRegions[];
}

export interface PreparedBatch {
  /** [items, channels, rows, columns], float32, row-major. */
  data: Float32Array;
  dims: [number, number, number, number];
  /** Per item: from model-input pixels to the reference (channels[0]) slice's pixels. */
  transforms: PixelTransform[];
}

export interface ImagePreparer {
  /** Applies `steps` to every item (each channel alike) and stacks the result into one batch. */
  prepareBatch(items: PrepareItem[], steps: PreparationStep[]): Promise<PreparedBatch>;
  /** Exact percentiles (0-100) of all the volume's pixel values, each computed once per volume. */
  volumePercentiles?(volume: Volume, ps: number[]): Promise<number[]>;
}

export interface OtherStudy {
  studyInstanceUid: string;
  /** DICOM DA (YYYYMMDD), used to tell pre- from post-treatment. */
  studyDate?: string;
  /** Selected volumes by role (t1, t2, ce-t1). */
  volumes: Record<string, Volume>;
  /** Where it came from: the node's store or a PACS. */
  source: 'store' | 'pacs';
}

/** Why the other study is not available (read after "not assessable: "), e.g. the PACS was unreachable. */
export interface OtherStudyUnavailable {
  unavailable: string;
}

/**
 * Finds a patient's other (earlier or later) MR study for the progression analysis. Implementations: the
 * node's own store, and the store plus a PACS (src/pipeline/prior-study-from-store.ts with the priors
 * stage). Returns undefined when there is none, or the reason it could not be had.
 */
export interface PriorStudyProvider {
  findOtherStudy(query: { patientId: string; studyInstanceUid: string; studyDate?: string }): Promise<OtherStudy | OtherStudyUnavailable | undefined>;
}

export type { Region };
