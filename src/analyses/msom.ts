/**
 * MSOM risk (paper 004): per-slice CE-T1 scores, the patient mean, high risk when >= the cut-off. Early fusion:
 * a model whose manifest takes the clinical vector as a second input is used when every variable it needs is
 * known; otherwise an image-only MSOM model, and the result says why; with neither, not assessable.
 */
import { ANALYSIS_MODEL_TASKS } from '../core/analysis-ids';
import { groupByCutoff, softVoteBinary } from './aggregation';
import type { AnalysisDefinition } from './analysis-definition';
import { describeEncodeFailure, encodeClinical } from './clinical-covariates';
import type { AnalysisContext, LocalisationOutcome } from './context';
import { signVote } from './localiser-measures';
import { scoreModels } from './model-scoring';
import { assessOrNotAssessable, assessed, fromScores, notAssessable } from './result-builder';
import type { AnalysisResult } from './types';

export const msomAnalysis: AnalysisDefinition<'msom'> = {
  id: 'msom',
  title: 'Metachronous single-organ metastasis (MSOM) risk',
  paper: 'Sichuan Cancer Hospital (004)',
  modelTasks: ANALYSIS_MODEL_TASKS.msom,
  report: { trackingIdentifier: 'MSOM risk', heatMapScoreLabel: 'Score' },
  run: (ctx, loc) => analyseMsom(ctx, loc),
};

export async function analyseMsom(ctx: AnalysisContext, loc: LocalisationOutcome): Promise<AnalysisResult> {
  const started = performance.now();
  const all = ctx.models.byTask('msom');
  if (!all.length) return notAssessable(msomAnalysis, ctx.studyInstanceUid, 'no MSOM model loaded');
  if (!loc.ok) return notAssessable(msomAnalysis, ctx.studyInstanceUid, loc.reason);
  const fusion = all.filter((m) => m.manifest.clinical?.use === 'input');
  const imageOnly = all.filter((m) => m.manifest.clinical?.use !== 'input');
  const notes: string[] = [];
  let chosen = imageOnly;
  let vector: number[] | undefined;
  let clinicalVariables: string[] = [];
  if (fusion.length) {
    const enc = encodeClinical(ctx.clinical, fusion[0]!.manifest.clinical!.encoding);
    if (enc.ok) {
      chosen = fusion;
      vector = enc.vector;
      clinicalVariables = enc.variables;
      notes.push(`early fusion of the CE-T1 score with ${enc.variables.join(', ')}`);
    } else if (imageOnly.length) {
      notes.push(`image only: the clinical vector is incomplete (${describeEncodeFailure(enc)})`);
    } else {
      return notAssessable(msomAnalysis, ctx.studyInstanceUid, `the MSOM model needs clinical covariates (${describeEncodeFailure(enc)}) and no image-only MSOM model is loaded`);
    }
  } else notes.push('image only');
  return assessOrNotAssessable(msomAnalysis, ctx.studyInstanceUid, async () => {
    const scores = await scoreModels(chosen, { volumes: ctx.volumes, localisation: loc.result, preparer: ctx.preparer, batchSize: ctx.models.options.batchSize, clinicalVector: vector, computeCams: ctx.computeCams });
    const signed = signVote(chosen[0]!.manifest, softVoteBinary(scores.map((s) => s.probability)), loc.result);
    const score = signed.probability;
    if (signed.note) notes.push(signed.note);
    const cutoff = chosen[0]!.manifest.cutoff!.value;
    const group = groupByCutoff(score, cutoff);
    return assessed(msomAnalysis, ctx.studyInstanceUid, {
      value: group,
      valueText: `${group === 'high' ? 'High' : 'Low'} MSOM risk${vector ? '' : ' (image only)'}`,
      probability: score,
      group,
      cutoff,
      clinicalCovariatesUsed: !!vector,
      clinicalVariables,
      ...fromScores(scores),
      components: { score, ...signed.components },
      notes,
      timings: { localisationMs: loc.result.timingMs, totalMs: performance.now() - started },
    });
  });
}
