/**
 * DMFS risk (paper 003): the CE-T1 deep-learning signature on the largest-tumour slice; when N stage,
 * EBV-DNA and treatment are known, a logistic combination with them (the combined model, its own cut-off);
 * otherwise the signature alone against the image-only cut-off, and the result says so.
 */
import { ANALYSIS_MODEL_TASKS } from '../core/analysis-ids';
import { groupByCutoff, logisticCombination, softVoteBinary } from './aggregation';
import type { AnalysisDefinition } from './analysis-definition';
import { describeEncodeFailure, encodeClinical } from './clinical-covariates';
import type { AnalysisContext, LocalisationOutcome } from './context';
import { signVote } from './localiser-measures';
import { scoreModels } from './model-scoring';
import { assessOrNotAssessable, assessed, fromScores, notAssessable } from './result-builder';
import type { AnalysisResult } from './types';

export const dmfsAnalysis: AnalysisDefinition<'dmfs'> = {
  id: 'dmfs',
  title: 'Distant-metastasis-free survival (DMFS) risk',
  paper: 'Zhang et al. 2020 (003)',
  modelTasks: ANALYSIS_MODEL_TASKS.dmfs,
  report: { trackingIdentifier: 'DMFS risk', heatMapScoreLabel: 'Score' },
  run: (ctx, loc) => analyseDmfs(ctx, loc),
};

export async function analyseDmfs(ctx: AnalysisContext, loc: LocalisationOutcome): Promise<AnalysisResult> {
  const started = performance.now();
  const models = ctx.models.byTask('dmfs');
  if (!models.length) return notAssessable(dmfsAnalysis, ctx.studyInstanceUid, 'no DMFS model loaded');
  if (!loc.ok) return notAssessable(dmfsAnalysis, ctx.studyInstanceUid, loc.reason);
  return assessOrNotAssessable(dmfsAnalysis, ctx.studyInstanceUid, async () => {
    const scores = await scoreModels(models, { volumes: ctx.volumes, localisation: loc.result, preparer: ctx.preparer, batchSize: ctx.models.options.batchSize, computeCams: ctx.computeCams });
    const manifest = models[0]!.manifest;
    const signed = signVote(manifest, softVoteBinary(scores.map((s) => s.probability)), loc.result);
    const signature = signed.probability;
    const spec = manifest.clinical?.use === 'logistic' ? manifest.clinical : undefined;
    let risk = signature;
    let cutoff = manifest.cutoff!.value;
    let clinicalVariables: string[] = [];
    const notes: string[] = signed.note ? [signed.note] : [];
    const components: Record<string, number> = { signature, ...signed.components };
    if (spec) {
      const enc = encodeClinical(ctx.clinical, spec.encoding);
      if (enc.ok) {
        risk = logisticCombination(signature, enc.vector, spec.logistic);
        cutoff = spec.cutoff.value;
        clinicalVariables = enc.variables;
        components.combined = risk;
        notes.push(`combined model: deep-learning signature with ${enc.variables.join(', ')} (cut-off: ${spec.cutoff.method})`);
      } else {
        notes.push(`image only (deep-learning signature): ${describeEncodeFailure(enc)}`);
      }
    } else notes.push('image only: the model has no clinical combination');
    const group = groupByCutoff(risk, cutoff);
    return assessed(dmfsAnalysis, ctx.studyInstanceUid, {
      value: group,
      valueText: `${group === 'high' ? 'High' : 'Low'} DMFS risk${clinicalVariables.length ? '' : ' (image only)'}`,
      probability: risk,
      group,
      cutoff,
      clinicalCovariatesUsed: clinicalVariables.length > 0,
      clinicalVariables,
      ...fromScores(scores),
      components,
      notes,
      timings: { localisationMs: loc.result.timingMs, totalMs: performance.now() - started },
    });
  });
}
