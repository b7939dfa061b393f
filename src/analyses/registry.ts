/**
 * The analysis registry: one record per analysis (id, title, paper, model tasks, how it runs, what its SR
 * and heat maps say about it), from which everything else that lists analyses is derived:
 * - the config enum of a local AE title's `analyses` (config/schema.ts, from core/analysis-ids.ts),
 * - the model registry's soft-vote checks at startup (infer/model-registry.ts, from ANALYSIS_MODEL_TASKS),
 * - the runner (run-analyses.ts: `ANALYSES[id].run`, no switch),
 * - the SR's tracking identifiers and coded items (encode/sr/tid-1500-measurement-report.ts),
 * - the heat maps' order (instance numbers) and caption label (encode/sc/).
 *
 * Layering: config/ and infer/ come before analyses/ on the data's path, so they cannot read this file. The
 * ordered id list and "which model tasks an analysis scores / soft-votes" are therefore pure data in
 * src/core/analysis-ids.ts; each record points at its entry there (`modelTasks: ANALYSIS_MODEL_TASKS.<id>`).
 * encode/ comes after analyses/ and reads the records. The SR's coded items (concepts from encode/sr/codes.ts)
 * stay in encode/sr, in a `Record<AnalysisId, ...>`: analyses/ may not import encode's code vocabulary.
 *
 * Adding an analysis = one new file (its run function and its record) + its id. The compiler then names
 * every place left to fill (each is a `Record<AnalysisId, ...>` or a `satisfies` over the ids):
 *   1. src/core/analysis-ids.ts: append the id to ANALYSIS_IDS (at the end: heat-map instance numbers follow
 *      the order) and its tasks to ANALYSIS_MODEL_TASKS; new model tasks go in src/core/model-tasks.ts.
 *   2. src/analyses/<id>.ts: `export const <id>Analysis: AnalysisDefinition<'<id>'> = {...}` and its run
 *      function (check what it needs, then `assessOrNotAssessable(def, uid, async () => { scoreModels ... })`).
 *   3. here: add it to ANALYSES.
 *   4. encode/sr/tid-1500-measurement-report.ts: its entry in SR_RESULT_ITEMS (NUM / CODE items; new
 *      concepts in encode/sr/codes.ts and docs/sr-content.md).
 *   5. test/unit/analyses/<id>.test.ts (the registry test checks that ids, records, config and encoders agree).
 *
 * Worked example, a sixth analysis "recurrence" (local recurrence risk from one CE-T1 network):
 *   - core/model-tasks.ts: add 'recurrence' to MODEL_TASKS (the manifest's `task`);
 *     core/analysis-ids.ts: ANALYSIS_IDS = [..., 'progression', 'recurrence'] and
 *     `recurrence: { needs: ['localiser', 'recurrence'], softVote: ['recurrence'] }` in ANALYSIS_MODEL_TASKS.
 *   - analyses/recurrence.ts:
 *       export const recurrenceAnalysis: AnalysisDefinition<'recurrence'> = {
 *         id: 'recurrence', title: 'Local recurrence risk', paper: '...',
 *         modelTasks: ANALYSIS_MODEL_TASKS.recurrence,
 *         report: { trackingIdentifier: 'Recurrence risk', heatMapScoreLabel: 'p' },
 *         run: (ctx, loc) => analyseRecurrence(ctx, loc),
 *       };
 *     where analyseRecurrence returns notAssessable(recurrenceAnalysis, uid, 'no recurrence model loaded')
 *     when `ctx.models.byTask('recurrence')` is empty or `loc` is not ok, and otherwise
 *     `assessOrNotAssessable(recurrenceAnalysis, uid, async () => { const scores = await scoreModels(...);
 *     ... return assessed(recurrenceAnalysis, uid, {...}); })`.
 *   - analyses/registry.ts: `recurrence: recurrenceAnalysis` in ANALYSES.
 *   - encode/sr: `recurrence: (r) => ({ measurements: [numItem(..., Npc.RecurrenceRiskProbability, ...)],
 *     evaluations: [codeItem(..., Npc.RecurrenceRiskGroup, riskGroupConcept(r.group, r))] })`.
 *   Until each of these is filled, `npx tsc` fails and names the file. Config, the runner, the model registry's
 *   soft-vote check, the SR tracking identifier and the heat maps need no change.
 */
import { ANALYSIS_IDS, type AnalysisId } from '../core/analysis-ids';
import type { AnalysisDefinition } from './analysis-definition';
import { dmfsAnalysis } from './dmfs';
import { msomAnalysis } from './msom';
import { progressionAnalysis } from './progression';
import { residualAnalysis } from './residual';
import { stageAnalysis } from './stage';

export type { AnalysisDefinition };

/** Every analysis by id; the mapped type makes each record's `id` equal its key. */
export const ANALYSES: { readonly [Id in AnalysisId]: AnalysisDefinition<Id> } = {
  stage: stageAnalysis,
  dmfs: dmfsAnalysis,
  msom: msomAnalysis,
  residual: residualAnalysis,
  progression: progressionAnalysis,
};

/** The records in the fixed analysis order (ANALYSIS_IDS). */
export const ANALYSIS_DEFINITIONS: readonly AnalysisDefinition[] = ANALYSIS_IDS.map((id) => ANALYSES[id]);

export function analysisDefinition(id: AnalysisId): AnalysisDefinition {
  return ANALYSES[id];
}
