/**
 * Orchestration: localise GTV and GTVln once per study, then run each enabled analysis on the selected
 * volumes, the models, the patient's clinical covariates and (for progression) the patient's other study.
 * Which analyses exist and how each runs: registry.ts. Every enabled analysis yields a result: assessed, or
 * not assessable with the reason in plain words.
 */
import type { Volume } from '../prepare/volume-types';
import type { AnalysisContext, LocalisationOutcome } from './context';
import { localise, type LocalisationResult } from './localisation';
import { analysisDefinition } from './registry';
import { notAssessable } from './result-builder';
import type { AnalysisId, AnalysisResult } from './types';
import { errorMessage } from '../util/error-message';

export interface AnalysesOutcome {
  localisation?: LocalisationResult;
  results: AnalysisResult[];
}

/** Localises on the localiser's role (usually ce-t1) of `volumes`. */
export async function localiseStudy(ctx: Pick<AnalysisContext, 'models' | 'preparer'>, volumes: Record<string, Volume>): Promise<LocalisationOutcome> {
  const localisers = ctx.models.byTask('localiser');
  if (!localisers.length) return { ok: false, reason: 'no localiser model loaded (tumour and nodes cannot be found)' };
  const model = localisers[0]!;
  const input = model.manifest.inputs.find((i) => i.kind === 'image');
  const role = input && input.kind === 'image' ? input.roles[0]! : 'ce-t1';
  const volume = volumes[role];
  if (!volume) return { ok: false, reason: `no ${role} series (the localiser needs it to find tumour and nodes)` };
  const result = await localise(model, volume, ctx.preparer, ctx.models.options.batchSize);
  if (!result.slices.some((s) => s.detections.length)) return { ok: false, reason: `no tumour or node found by the localiser on the ${role} series` };
  return { ok: true, result };
}

export async function runAnalyses(ctx: AnalysisContext, analyses: readonly AnalysisId[]): Promise<AnalysesOutcome> {
  const loc = await localiseStudy(ctx, ctx.volumes);
  const results: AnalysisResult[] = [];
  const env = { localise: (volumes: Record<string, Volume>) => localiseStudy(ctx, volumes) };
  for (const id of analyses) {
    const analysis = analysisDefinition(id);
    try {
      results.push(await analysis.run(ctx, loc, env));
    } catch (e) {
      // A fault in one analysis (e.g. a model/preparation mismatch) must not cost the others their results.
      results.push(notAssessable(analysis, ctx.studyInstanceUid, `analysis failed: ${errorMessage(e)}`));
    }
  }
  return { ...(loc.ok ? { localisation: loc.result } : {}), results };
}
