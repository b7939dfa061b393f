/**
 * Inputs and outputs of encode/: what the pipeline hands the SR and Secondary Capture encoders, and what
 * they give back for delivery (deliver/ sends `buffer`; the outbox keys on `sopInstanceUid`).
 */
import type { AnalysisResult, AssessedResult, ImageRef, PixelBox, CamMap } from '../analyses/types';
import type { SrSopClassSchema, ScSopClassSchema } from '../config/schema';
import type { InstanceHeader } from '../core/instance-header';
import type { Slice } from '../prepare/volume-types';
import type { z } from 'zod';

export type SrSopClassSetting = z.infer<typeof SrSopClassSchema>;
export type ScSopClassSetting = z.infer<typeof ScSopClassSchema>;

/** A reference to an object the node wrote earlier (for Predecessor Documents / replaced heat maps). */
export interface ObjectRef {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  sopClassUid: string;
  /** Defaults to the study being reported. */
  studyInstanceUid?: string;
}

/** The node as a device: device observer in the SR, equipment in both objects. */
export interface DeviceIdentity {
  name: string;
  manufacturer: string;
  modelName: string;
  softwareVersion: string;
  deviceUid: string;
  serialNumber: string;
  institutionName?: string;
}

/** One source image with its stored header (for the image library and the evidence sequence). */
export interface SourceInstance {
  image: ImageRef;
  header?: InstanceHeader;
}

/** The SEG sent with the report: what a TID 1411 group references. */
export interface SegmentationReference {
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  /** The CE-T1 series the segmentation was made on (Source series for segmentation). */
  sourceSeriesInstanceUid: string;
  segments: { segmentNumber: number; region: 'gtv' | 'gtvln' }[];
}

export interface ReportInput {
  /** A representative source header: Patient and General Study are copied from it. */
  study: InstanceHeader;
  results: AnalysisResult[];
  sourceInstances: SourceInstance[];
  /** 1 for the first analysis of the study, +1 for each re-analysis. */
  generation: number;
  /** Objects of the previous generation this report replaces. */
  predecessors?: ObjectRef[];
  device: DeviceIdentity;
  srSopClass: SrSopClassSetting;
  /** Heat maps already encoded for this generation, linked as "Visual Explanation" from their group. */
  heatMaps?: (ObjectRef & { analysis: string })[];
  /**
   * The localiser's SEG of this generation (sent with the report): each group's Referenced Segment (TID 1411)
   * and an entry of CurrentRequestedProcedureEvidenceSequence.
   */
  segmentation?: SegmentationReference;
  /** ContentDate/Time; defaults to now. Pass a fixed value for byte-identical re-encoding. */
  contentDateTime?: Date;
}

export interface HeatMapInput {
  study: InstanceHeader;
  result: AssessedResult;
  keyImage: { image: ImageRef; region?: PixelBox; cam?: CamMap };
  /** The source slice of `keyImage` (pixels in source space). */
  slice: Slice;
  generation: number;
  predecessors?: ObjectRef[];
  device: DeviceIdentity;
  scSopClass: ScSopClassSetting;
  /** Header of the key image's source instance (orientation, body part); optional. */
  sourceHeader?: InstanceHeader;
  contentDateTime?: Date;
}

export interface EncodedObject {
  buffer: Buffer;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  sopClassUid: string;
}

export class EncodeInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncodeInputError';
  }
}
