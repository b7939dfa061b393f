/**
 * Stage III vs IVa (paper 000): >= 2 networks on ROI crops of tumour and nodes, soft voting (the mean of the
 * networks' class-probability vectors), patient-level mean over the crops. Because both steps are means, the
 * mean over networks of each network's patient mean equals the per-patch vote averaged over patches.
 */
import { ANALYSIS_MODEL_TASKS } from '../core/analysis-ids';
import { softVoteBinary } from './aggregation';
import type { AnalysisDefinition } from './analysis-definition';
import type { AnalysisContext, LocalisationOutcome } from './context';
import { signVote } from './localiser-measures';
import { scoreModels } from './model-scoring';
import { assessOrNotAssessable, assessed, fromScores, notAssessable } from './result-builder';
import type { AnalysisResult } from './types';

/** Paper 000 combines five networks; a soft vote needs at least two. */
export const MIN_STAGE_NETWORKS = 2;

export const stageAnalysis: AnalysisDefinition<'stage'> = {
  id: 'stage',
  title: 'AJCC stage III vs IVa',
  paper: 'Huang et al. 2021 (000)',
  modelTasks: ANALYSIS_MODEL_TASKS.stage,
  report: { trackingIdentifier: 'AJCC stage', heatMapScoreLabel: 'p' },
  run: (ctx, loc) => analyseStage(ctx, loc),
};

export async function analyseStage(ctx: AnalysisContext, loc: LocalisationOutcome): Promise<AnalysisResult> {
  const started = performance.now();
  const models = ctx.models.byTask('stage');
  if (models.length < MIN_STAGE_NETWORKS) {
    return notAssessable(stageAnalysis, ctx.studyInstanceUid, `the stage analysis needs at least ${MIN_STAGE_NETWORKS} networks for soft voting; ${models.length} loaded`);
  }
  if (!loc.ok) return notAssessable(stageAnalysis, ctx.studyInstanceUid, loc.reason);
  return assessOrNotAssessable(stageAnalysis, ctx.studyInstanceUid, async () => {
    const scores = await scoreModels(models, { volumes: ctx.volumes, localisation: loc.result, preparer: ctx.preparer, batchSize: ctx.models.options.batchSize, computeCams: ctx.computeCams });
    const vote = softVoteBinary(scores.map((s) => s.probability));
    const first = models[0]!.manifest;
    const signed = signVote(first, vote, loc.result);
    const p = signed.probability;
    const cutoff = first.cutoff!.value;
    const positive = p >= cutoff;
    const value = positive ? first.classes!.positive : first.classes!.negative;
    return assessed(stageAnalysis, ctx.studyInstanceUid, {
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
  });
}
