/**
 * The analyses the node knows, in their fixed order, and the model tasks each one needs: the low facts of
 * the analysis registry (src/analyses/registry.ts holds one full record per analysis).
 *
 * Why these two facts live here and not in the registry: config/ (the `analyses` enum of a local AE title)
 * and infer/ (the model registry's soft-vote checks at startup) come before analyses/ on the data's path and
 * may not import it. So the ordered id list and "which model tasks an analysis scores / soft-votes" are pure
 * data in core/; the analysis records refer to them (`Record<AnalysisId, ...>` there, and `satisfies` here,
 * make the compiler name every place left to fill when an id is added).
 *
 * The order is the order of results in reports and of heat-map instance numbers (10, 20, ...): append a new
 * analysis at the end, never reorder, or the instance numbers of existing analyses change.
 */
import type { ModelTask } from './model-tasks';

export const ANALYSIS_IDS = ['stage', 'dmfs', 'msom', 'residual', 'progression'] as const;
export type AnalysisId = (typeof ANALYSIS_IDS)[number];

export interface AnalysisModelTasks {
  /** Every model task the analysis scores (the localiser included for ROI-based analyses). */
  readonly needs: readonly ModelTask[];
  /**
   * Tasks whose loaded models the analysis combines by soft voting: at startup they must agree on cut-off
   * and classes. (MSOM's fusion and image-only models share the task `msom` but are never voted together.)
   */
  readonly softVote: readonly ModelTask[];
}

export const ANALYSIS_MODEL_TASKS = {
  stage: { needs: ['localiser', 'stage'], softVote: ['stage'] },
  dmfs: { needs: ['localiser', 'dmfs'], softVote: ['dmfs'] },
  msom: { needs: ['localiser', 'msom'], softVote: [] },
  residual: { needs: ['localiser', 'residual-ccrt', 'residual-ic-ccrt'], softVote: ['residual-ccrt', 'residual-ic-ccrt'] },
  progression: { needs: ['localiser', 'progression-pre', 'progression-post'], softVote: ['progression-pre', 'progression-post'] },
} as const satisfies Record<AnalysisId, AnalysisModelTasks>;

/** Every task some analysis soft-votes, in analysis order (each once). */
export const SOFT_VOTE_TASKS: readonly ModelTask[] = [...new Set(ANALYSIS_IDS.flatMap((id): readonly ModelTask[] => ANALYSIS_MODEL_TASKS[id].softVote))];
