/**
 * Progression risk from pre- and post-treatment MR (paper 001): the Pre-model on the pre-treatment study and
 * the Post-model on the post-treatment study, each a weighted average over that study's images, combined by
 * soft voting. The patient's other study comes from the PriorStudyProvider (the node's store, or a PACS);
 * the earlier study by StudyDate is the pre-treatment one. Without it the analysis is not assessable.
 */
import { ANALYSIS_MODEL_TASKS } from '../core/analysis-ids';
import type { Volume } from '../prepare/volume-types';
import { groupByCutoff, softVoteBinary } from './aggregation';
import type { AnalysisDefinition } from './analysis-definition';
import type { AnalysisContext, LocalisationOutcome } from './context';
import { scoreModels } from './model-scoring';
import { assessOrNotAssessable, assessed, fromScores, notAssessable } from './result-builder';
import type { AnalysisResult } from './types';

/** Which of two studies is pre-treatment, by DICOM StudyDate (YYYYMMDD); undefined when it cannot be told. */
export function orderStudies(current?: string, other?: string): 'current-is-pre' | 'current-is-post' | undefined {
  const valid = (d?: string) => !!d && /^\d{8}$/.test(d);
  if (!valid(current) || !valid(other) || current === other) return undefined;
  return current! < other! ? 'current-is-pre' : 'current-is-post';
}

export const progressionAnalysis: AnalysisDefinition<'progression'> = {
  id: 'progression',
  title: 'Progression risk from pre- and post-treatment MR',
  paper: 'Li et al. 2022 (001)',
  modelTasks: ANALYSIS_MODEL_TASKS.progression,
  report: { trackingIdentifier: 'Progression risk', heatMapScoreLabel: 'p' },
  run: (ctx, loc, env) => analyseProgression(ctx, loc, env.localise),
};

export async function analyseProgression(
  ctx: AnalysisContext,
  loc: LocalisationOutcome,
  localiseOther: (volumes: Record<string, Volume>) => Promise<LocalisationOutcome>,
): Promise<AnalysisResult> {
  const started = performance.now();
  const pre = ctx.models.byTask('progression-pre');
  const post = ctx.models.byTask('progression-post');
  const missing = [!pre.length && 'pre-treatment', !post.length && 'post-treatment'].filter(Boolean);
  if (missing.length) return notAssessable(progressionAnalysis, ctx.studyInstanceUid, `no ${missing.join(' and ')} progression model loaded`);
  if (!ctx.priorStudies || !ctx.patientId) {
    return notAssessable(progressionAnalysis, ctx.studyInstanceUid, 'the patient\'s other (pre- or post-treatment) study cannot be looked up: no prior-study source configured');
  }
  const other = await ctx.priorStudies.findOtherStudy({ patientId: ctx.patientId, studyInstanceUid: ctx.studyInstanceUid, ...(ctx.studyDate ? { studyDate: ctx.studyDate } : {}) });
  if (!other) return notAssessable(progressionAnalysis, ctx.studyInstanceUid, 'no other MR study of this patient was found (pre- and post-treatment MR are both needed)');
  if ('unavailable' in other) return notAssessable(progressionAnalysis, ctx.studyInstanceUid, other.unavailable);
  const order = orderStudies(ctx.studyDate, other.studyDate);
  if (!order) return notAssessable(progressionAnalysis, ctx.studyInstanceUid, 'cannot tell which study is pre-treatment: study dates missing or equal');
  if (!loc.ok) return notAssessable(progressionAnalysis, ctx.studyInstanceUid, loc.reason);
  const otherLoc = await localiseOther(other.volumes);
  if (!otherLoc.ok) return notAssessable(progressionAnalysis, ctx.studyInstanceUid, `other study: ${otherLoc.reason}`);
  const [preVolumes, preLoc, postVolumes, postLoc] =
    order === 'current-is-pre' ? [ctx.volumes, loc.result, other.volumes, otherLoc.result] : [other.volumes, otherLoc.result, ctx.volumes, loc.result];
  return assessOrNotAssessable(progressionAnalysis, ctx.studyInstanceUid, async () => {
    const common = { preparer: ctx.preparer, batchSize: ctx.models.options.batchSize, computeCams: ctx.computeCams };
    const preScores = await scoreModels(pre, { volumes: preVolumes, localisation: preLoc, ...common });
    const postScores = await scoreModels(post, { volumes: postVolumes, localisation: postLoc, ...common });
    const pPre = softVoteBinary(preScores.map((s) => s.probability));
    const pPost = softVoteBinary(postScores.map((s) => s.probability));
    const p = softVoteBinary([pPre, pPost]);
    const cutoff = pre[0]!.manifest.cutoff!.value;
    const group = groupByCutoff(p, cutoff);
    return assessed(progressionAnalysis, ctx.studyInstanceUid, {
      value: group,
      valueText: `${group === 'high' ? 'High' : 'Low'} risk of progression`,
      probability: p,
      group,
      cutoff,
      clinicalCovariatesUsed: false,
      clinicalVariables: [],
      ...fromScores([...preScores, ...postScores]),
      components: { pre: pPre, post: pPost },
      notes: [
        `soft vote of the pre-treatment model (${order === 'current-is-pre' ? 'this study' : 'the other study'}) and the post-treatment model (${order === 'current-is-pre' ? 'the other study' : 'this study'})`,
        `other study ${other.studyInstanceUid} from the ${other.source === 'store' ? "node's store" : 'PACS'}`,
      ],
      timings: { localisationMs: loc.result.timingMs + otherLoc.result.timingMs, totalMs: performance.now() - started },
      priorStudy: { studyInstanceUid: other.studyInstanceUid, ...(other.studyDate ? { studyDate: other.studyDate } : {}), source: other.source },
    });
  });
}
