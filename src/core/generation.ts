/**
 * Two numberings of the same thing, kept apart on purpose:
 * - the **study generation** (`studies.generation`, `jobs.generation`, the analysis job payload) starts at
 *   0 for a study's first analysis and grows by one with each re-analysis;
 * - the **result generation** written into the node's DICOM objects (deterministic SOP/Series/Tracking
 *   UIDs in encode/identity.ts, the SR's InstanceNumber, "revision N" in SC descriptions) starts at 1.
 * This is the only place that converts one into the other; changing it changes every output UID.
 */

/** The result generation (1-based) of the analysis of a study generation (0-based). */
export function resultGeneration(studyGeneration: number): number {
  if (!Number.isInteger(studyGeneration) || studyGeneration < 0) throw new RangeError(`invalid study generation ${studyGeneration}`);
  return studyGeneration + 1;
}
