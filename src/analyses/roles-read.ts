/**
 * The series roles a study's enabled analyses read: the image inputs of every loaded model whose task one of
 * them needs (the localiser's included). Only these volumes are worth decoding; a selected series no model
 * reads (the axial T1 with the shipped models) is listed in the report but never decoded.
 */
import { ANALYSIS_MODEL_TASKS, type AnalysisId } from '../core/analysis-ids';
import type { ModelSource } from './context';

export function rolesReadBy(models: Pick<ModelSource, 'byTask'>, analyses: readonly AnalysisId[]): string[] {
  const tasks = new Set(analyses.flatMap((id) => ANALYSIS_MODEL_TASKS[id].needs));
  const roles = new Set<string>();
  for (const task of tasks) {
    for (const model of models.byTask(task)) {
      for (const input of model.manifest.inputs) if (input.kind === 'image') for (const role of input.roles) roles.add(role);
    }
  }
  return [...roles];
}
