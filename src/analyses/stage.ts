/**
 * Stage III vs IVa (paper 000): >= 2 networks on ROI crops of tumour and nodes, soft voting (the mean of the
 * networks' class-probability vectors), patient-level mean over the crops. Because both steps are means, the
 * mean over networks of each network's patient mean equals the per-patch vote averaged over patches.
 */
import { softVoteBinary } from './aggregation';
import type { AnalysisContext, LocalisationOutcome } from './context';
import { signVote } from './localiser-measures';
import { NotAssessable, scoreModel } from './model-scoring';
import { assessed, fromScores, notAssessable } from './result-builder';
import type { AnalysisResult } from './types';

/** Paper 000 combines five networks; a soft vote needs at least two. */
export const MIN_STAGE_NETWORKS = 2;

export async function analyseStage(ctx: AnalysisContext, loc: LocalisationOutcome): Promise<AnalysisResult> {
  const started = performance.now();
  const models = ctx.models.byTask('stage');
  if (models.length < MIN_STAGE_NETWORKS) {
    return notAssessable('stage', ctx.studyInstanceUid, `the stage analysis needs at least ${MIN_STAGE_NETWORKS} networks for soft voting; ${models.length} loaded`);
  }
  if (!loc.ok) return notAssessable('stage', ctx.studyInstanceUid, loc.reason);
  try {
    const scores = [];
    for (const m of models) {
      scores.push(await scoreModel(m, { volumes: ctx.volumes, localisation: loc.result, preparer: ctx.preparer, batchSize: ctx.models.options.batchSize, computeCams: ctx.computeCams }));
    }
    const vote = softVoteBinary(scores.map((s) => s.probability));
    const first = models[0]!.manifest;
    const signed = signVote(first, vote, loc.result);
    const p = signed.probability;
    const cutoff = first.cutoff!.value;
    const positive = p >= cutoff;
    const value = positive ? first.classes!.positive : first.classes!.negative;
    return assessed('stage', ctx.studyInstanceUid, {
      value,
      valueText: `AJCC stage ${value}`,
      probability: p,
      cutoff,
      clinicalCovariatesUsed: false,
      clinicalVariables: [],
      ...fromScores(scores),
      components: { ...Object.fromEntries(scores.map((s) => [s.model.id, s.probability])), ...signed.components },
      notes: [`soft vote of ${scores.length} networks; probability of ${first.classes!.positive}`, ...(signed.note ? [signed.note] : [])],
      timings: { localisationMs: loc.result.timingMs, ...Object.fromEntries(scores.map((s) => [`${s.model.id}Ms`, s.timingMs])), totalMs: performance.now() - started },
    });
  } catch (e) {
    if (e instanceof NotAssessable) return notAssessable('stage', ctx.studyInstanceUid, e.reason);
    throw e;
  }
}
