/**
 * Identity of the objects the node writes: deterministic UIDs so that re-sending the same analysis version
 * re-uses the same SOP Instance UIDs (a retry never duplicates an object in the PACS), while a re-analysis
 * (a new generation) gets new UIDs and references what it replaces. Every `generation` here is the result
 * generation (1-based), never the 0-based study generation: src/core/generation.ts converts one to the other.
 */
import type { AnalysisResult, ModelIdentity } from '../analyses/types';
import { deterministicUid } from '../dicom/uids';

export type OutputKind = 'sr' | 'sc' | 'seg';

const NAMESPACE = 'npcai-encode-v1';

/** The model versions that made a result: stable text, order independent. */
export function modelVersionKey(models: readonly ModelIdentity[]): string {
  return models
    .map((m) => `${m.id}@${m.version}#${m.sha256}`)
    .sort()
    .join(',');
}

/** The analysis versions behind a whole report (every result's analysis and models). */
export function reportVersionKey(results: readonly AnalysisResult[]): string {
  return results
    .map((r) => `${r.analysis}:${r.assessable ? modelVersionKey(r.models) : 'not-assessable'}`)
    .sort()
    .join(';');
}

/**
 * One series per output kind and generation. `variant` (the SOP class setting, when not the default)
 * keeps objects of another SOP class, sent to a destination that needs it, under their own UIDs.
 */
export function outputSeriesUid(studyInstanceUid: string, kind: OutputKind, generation: number, variant?: string): string {
  return deterministicUid([NAMESPACE, 'series', studyInstanceUid, kind, generation, ...(variant ? [variant] : [])].join('|'));
}

/** The SR's SOP Instance UID: study, analysis versions, generation. */
export function reportInstanceUid(studyInstanceUid: string, results: readonly AnalysisResult[], generation: number, variant?: string): string {
  return deterministicUid([NAMESPACE, 'sr', studyInstanceUid, reportVersionKey(results), generation, ...(variant ? [variant] : [])].join('|'));
}

/** A heat map's SOP Instance UID: study, analysis, its model versions, generation, key image index. */
export function heatMapInstanceUid(
  studyInstanceUid: string,
  analysis: string,
  models: readonly ModelIdentity[],
  generation: number,
  keyImageIndex: number,
  variant?: string,
): string {
  return deterministicUid(
    [NAMESPACE, 'sc', studyInstanceUid, analysis, modelVersionKey(models), generation, keyImageIndex, ...(variant ? [variant] : [])].join('|'),
  );
}

/** Tracking Unique Identifier of an analysis's measurement group (stable across re-sends of one version). */
export function trackingUid(studyInstanceUid: string, analysis: string, versionKey: string, generation: number): string {
  return deterministicUid([NAMESPACE, 'tracking', studyInstanceUid, analysis, versionKey, generation].join('|'));
}

/** A Device UID for a model (ContributingEquipmentSequence), derived from its identity. */
export function modelDeviceUid(model: ModelIdentity): string {
  return deterministicUid([NAMESPACE, 'model', model.id, model.version, model.sha256].join('|'));
}

/** The SEG's SOP Instance UID: study, source series, localiser version, generation. */
export function segmentationInstanceUid(studyInstanceUid: string, sourceSeriesUid: string, localiser: ModelIdentity, generation: number): string {
  return deterministicUid([NAMESPACE, 'seg', studyInstanceUid, sourceSeriesUid, modelVersionKey([localiser]), generation].join('|'));
}
