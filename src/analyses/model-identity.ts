/**
 * Small facts about a loaded model that both the localiser and the scoring models need: its identity as a
 * result records it, and the fixed batch size its graph may demand. (Its own module so that localisation.ts
 * and model-scoring.ts do not import each other.)
 */
import type { Dim } from '../infer/manifest';
import type { LoadedModel } from '../infer/model-registry';
import type { ModelIdentity } from './types';

export function identityOf(model: LoadedModel): ModelIdentity {
  const m = model.manifest;
  return { id: m.id, name: m.name, version: m.version, sha256: m.sha256, provider: model.session.provider };
}

export function fixedBatchOf(batchDim: Dim): { fixedBatch?: number } {
  return typeof batchDim === 'number' && batchDim > 0 ? { fixedBatch: batchDim } : {};
}
