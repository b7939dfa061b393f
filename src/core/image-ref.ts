/**
 * A reference to one source MR image, the unit that prepare/, infer/, analyses/ and encode/ all point at
 * (a slice's origin, a key image, an SR's image reference). Lives in core/ so every stage may use it.
 */
export interface ImageRef {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  /** 1-based frame number for multi-frame instances. */
  frameNumber?: number;
}
