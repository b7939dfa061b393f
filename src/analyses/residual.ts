/**
 * Residual tumour after CCRT and after IC + CCRT (paper 002): each model's patient-level mean probability of
 * residual tumour over the patient's tumour slices, residual predicted when >= its cut-off, then the
 * recommendation rule (CCRT, IC+CCRT or individual-based intensified treatment, IBT).
 */
import { ANALYSIS_MODEL_TASKS } from '../core/analysis-ids';
import { recommendTreatment, softVoteBinary } from './aggregation';
import type { AnalysisDefinition } from './analysis-definition';
import type { AnalysisContext, LocalisationOutcome } from './context';
import { signVote } from './localiser-measures';
import { scoreModels } from './model-scoring';
import { assessOrNotAssessable, assessed, fromScores, notAssessable } from './result-builder';
import type { AnalysisResult } from './types';

const RECOMMENDATION_TEXT = {
  CCRT: 'CCRT recommended (no residual tumour predicted after CCRT)',
  'IC+CCRT': 'IC + CCRT recommended (residual predicted after CCRT, none after IC + CCRT)',
  IBT: 'Individual-based intensified treatment (residual tumour predicted after both CCRT and IC + CCRT)',
} as const;

export const residualAnalysis: AnalysisDefinition<'residual'> = {
  id: 'residual',
  title: 'Residual tumour after CCRT and after IC + CCRT, and treatment recommendation',
  paper: 'Hua et al. 2023 (002)',
  modelTasks: ANALYSIS_MODEL_TASKS.residual,
  report: { trackingIdentifier: 'Residual tumour and treatment recommendation', heatMapScoreLabel: 'p' },
  run: (ctx, loc) => analyseResidual(ctx, loc),
};

export async function analyseResidual(ctx: AnalysisContext, loc: LocalisationOutcome): Promise<AnalysisResult> {
  const started = performance.now();
  const ccrtModels = ctx.models.byTask('residual-ccrt');
  const icModels = ctx.models.byTask('residual-ic-ccrt');
  const missing = [!ccrtModels.length && 'CCRT', !icModels.length && 'IC + CCRT'].filter(Boolean);
  if (missing.length) return notAssessable(residualAnalysis, ctx.studyInstanceUid, `no residual-tumour model loaded for ${missing.join(' and ')} (the recommendation needs both)`);
  if (!loc.ok) return notAssessable(residualAnalysis, ctx.studyInstanceUid, loc.reason);
  return assessOrNotAssessable(residualAnalysis, ctx.studyInstanceUid, async () => {
    const opts = { volumes: ctx.volumes, localisation: loc.result, preparer: ctx.preparer, batchSize: ctx.models.options.batchSize, computeCams: ctx.computeCams };
    const ccrt = await scoreModels(ccrtModels, opts);
    const ic = await scoreModels(icModels, opts);
    const signedCcrt = signVote(ccrtModels[0]!.manifest, softVoteBinary(ccrt.map((s) => s.probability)), loc.result);
    const signedIc = signVote(icModels[0]!.manifest, softVoteBinary(ic.map((s) => s.probability)), loc.result);
    const pCcrt = signedCcrt.probability;
    const pIc = signedIc.probability;
    const prefixed = (prefix: string, c: Record<string, number>) => Object.fromEntries(Object.entries(c).map(([k, v]) => [`${prefix}.${k}`, v]));
    const cutCcrt = ccrtModels[0]!.manifest.cutoff!.value;
    const cutIc = icModels[0]!.manifest.cutoff!.value;
    const value = recommendTreatment(pCcrt >= cutCcrt, pIc >= cutIc);
    const probability = value === 'CCRT' ? pCcrt : value === 'IC+CCRT' ? pIc : Math.min(pCcrt, pIc);
    return assessed(residualAnalysis, ctx.studyInstanceUid, {
      value,
      valueText: RECOMMENDATION_TEXT[value],
      probability,
      clinicalCovariatesUsed: false,
      clinicalVariables: [],
      ...fromScores([...ccrt, ...ic]),
      components: { ccrt: pCcrt, icCcrt: pIc, ccrtCutoff: cutCcrt, icCcrtCutoff: cutIc, ...prefixed('ccrt', signedCcrt.components), ...prefixed('icCcrt', signedIc.components) },
      notes: [
        `probability of residual tumour after CCRT ${pCcrt.toFixed(3)} (cut-off ${cutCcrt}), after IC + CCRT ${pIc.toFixed(3)} (cut-off ${cutIc})`,
        'probability shown: residual tumour under the recommended regimen (for IBT: the lower of the two)',
        ...[signedCcrt.note, signedIc.note].filter((n): n is string => !!n),
      ],
      timings: { localisationMs: loc.result.timingMs, totalMs: performance.now() - started },
    });
  });
}
