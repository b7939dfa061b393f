/**
 * A series as a stack of 2-D slices in patient space, the shared input of prepare/, infer/ and analyses/.
 * Built by prepare/build-volume.ts from stored instances (decoded, rescaled, sorted along the slice normal).
 */
import type { ImageRef } from '../core/image-ref';

export interface Slice {
  /** Rescaled pixel values (slope/intercept applied), row-major, rows x columns. */
  pixels: Float32Array;
  rows: number;
  columns: number;
  /** [row spacing, column spacing] in mm (DICOM PixelSpacing order). */
  pixelSpacing: [number, number];
  /** Position of the first pixel (ImagePositionPatient) and the slice's distance along the normal. */
  position: [number, number, number];
  location: number;
  /** The source image this slice came from (frameNumber set for multi-frame instances). */
  image: ImageRef;
}

export interface Volume {
  seriesInstanceUid: string;
  seriesDescription?: string;
  /** The selection role this series fills (t1, t2, ce-t1, ...). */
  role: string;
  /** Row and column direction cosines (ImageOrientationPatient). */
  orientation: [number, number, number, number, number, number];
  /** Unit normal; slices are sorted by increasing `location` along it. */
  normal: [number, number, number];
  /** Median distance between adjacent slices in mm. */
  sliceSpacing: number;
  slices: Slice[];
  /** What building the volume had to work around (dropped images, mixed matrix sizes, ...), in words. */
  warnings?: string[];
}
