/**
 * Builds AnalysisResult objects from model scores: the common fields, inputs used, key images with CAMs; and
 * the one place where a NotAssessable thrown while scoring becomes a not-assessable result.
 */
import { mean } from './aggregation';
import { meanCamMaps } from './cam';
import type { AnalysisHeader } from './analysis-definition';
import { NotAssessable, type ModelScores } from './model-scoring';
import {
  RESEARCH_USE_STATEMENT,
  type AnalysisResult,
  type AssessedResult,
  type CamMap,
  type ImageRef,
  type NotAssessableResult,
  type PixelBox,
} from './types';

/** What every result says about itself: which analysis (its registry record's id and title), of which study, research use only. */
function resultIdentity(analysis: AnalysisHeader, studyInstanceUid: string) {
  return { analysis: analysis.id, title: analysis.title, studyInstanceUid, researchUseOnly: true as const, statement: RESEARCH_USE_STATEMENT };
}

export function notAssessable(analysis: AnalysisHeader, studyInstanceUid: string, reason: string): NotAssessableResult {
  return { ...resultIdentity(analysis, studyInstanceUid), assessable: false, reason };
}

/**
 * Runs `assess` (which scores the models and builds the assessed result) and turns a NotAssessable it throws
 * (a series a model needs is missing, no tumour on the slices a model scores, ...) into the analysis's
 * not-assessable result with that reason. Any other error is a fault and propagates (the runner reports it).
 */
export async function assessOrNotAssessable(analysis: AnalysisHeader, studyInstanceUid: string, assess: () => Promise<AnalysisResult>): Promise<AnalysisResult> {
  try {
    return await assess();
  } catch (e) {
    if (e instanceof NotAssessable) return notAssessable(analysis, studyInstanceUid, e.reason);
    throw e;
  }
}

const imageKey = (i: ImageRef) => `${i.sopInstanceUid}#${i.frameNumber ?? 1}`;

/**
 * The parts of a result that come from the scores of the contributing models: model identities, series and
 * images used, per-slice scores (mean over the models that scored the slice: a per-slice soft vote), and key
 * images with their ROI and CAM (the mean of the models' maps of that slice).
 */
export function fromScores(scores: ModelScores[]): Pick<AssessedResult, 'models' | 'inputs' | 'keyImages' | 'sliceScores'> {
  const series = new Map<string, { role: string; seriesInstanceUid: string; seriesDescription?: string }>();
  const bySlice = new Map<string, { image: ImageRef; probs: number[]; cams: CamMap[]; region?: PixelBox }>();
  for (const s of scores) {
    for (const { role, volume } of s.series) {
      const key = `${role}|${volume.seriesInstanceUid}`;
      if (!series.has(key)) {
        series.set(key, { role, seriesInstanceUid: volume.seriesInstanceUid, ...(volume.seriesDescription ? { seriesDescription: volume.seriesDescription } : {}) });
      }
    }
    for (const sl of s.slices) {
      const k = imageKey(sl.slice.image);
      const e = bySlice.get(k) ?? { image: sl.slice.image, probs: [], cams: [] };
      e.probs.push(sl.probability);
      if (sl.cam) e.cams.push(sl.cam);
      if (sl.roi && !e.region) e.region = sl.roi;
      bySlice.set(k, e);
    }
  }
  const entries = [...bySlice.values()];
  return {
    models: scores.map((s) => s.model),
    inputs: { series: [...series.values()], images: entries.map((e) => e.image) },
    sliceScores: entries.map((e) => ({ image: e.image, probability: mean(e.probs) })),
    keyImages: keySlices(entries).map((e) => ({
      image: e.image,
      ...(e.region ? { region: e.region } : {}),
      ...(e.cams.length ? { cam: meanCamMaps(e.cams, e.cams.length > 1 ? `mean of ${e.cams.length} models' CAMs: ${e.cams.map((c) => c.method).join('; ')}` : e.cams[0]!.method) } : {}),
    })),
  };
}

/** How many key slices an analysis shows (heat-map images, SR regions): the largest-region slices first. */
export const KEY_IMAGES_PER_ANALYSIS = 1;

/** The slices with the largest region (the largest-tumour slice first); ties and region-less by probability. */
function keySlices<T extends { region?: PixelBox; probs: number[] }>(entries: T[]): T[] {
  const area = (b?: PixelBox) => (b ? (b.x1 - b.x0) * (b.y1 - b.y0) : -1);
  return [...entries].sort((a, b) => area(b.region) - area(a.region) || mean(b.probs) - mean(a.probs)).slice(0, KEY_IMAGES_PER_ANALYSIS);
}

export function assessed(
  analysis: AnalysisHeader,
  studyInstanceUid: string,
  fields: Omit<AssessedResult, 'analysis' | 'title' | 'studyInstanceUid' | 'researchUseOnly' | 'statement' | 'assessable'>,
): AssessedResult {
  return { ...resultIdentity(analysis, studyInstanceUid), assessable: true, ...fields };
}
