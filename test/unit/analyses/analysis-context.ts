/**
 * Cheap contexts for calling one analysis directly: the tiny fixture models, the synthetic study, and
 * model sources that hide models, move a cut-off or make a session fail.
 */
import type { AnalysisContext, LocalisationOutcome, ModelSource } from '../../../src/analyses/context';
import { createPreparer } from '../../../src/analyses/prepare-adapter';
import { localiseStudy } from '../../../src/analyses/run-analyses';
import type { AnalysisEnvironment } from '../../../src/analyses/analysis-definition';
import type { ModelTask } from '../../../src/infer/manifest';
import { ModelRegistry, type LoadedModel } from '../../../src/infer/model-registry';
import { silentLogger } from '../../../src/logging/logger';
import type { Volume } from '../../../src/prepare/volume-types';
import { FIXTURE_MODELS_DIR } from '../infer/model-fixtures';
import { syntheticStudy } from './synthetic-study';

export const STUDY_UID = '1.2.3.100';

export function loadFixtureModels(): Promise<ModelRegistry> {
  return ModelRegistry.load({ dir: FIXTURE_MODELS_DIR, executionProviders: ['cpu'], batchSize: 4 }, silentLogger());
}

export function contextOf(models: ModelSource, over: Partial<AnalysisContext> = {}): AnalysisContext {
  return {
    studyInstanceUid: STUDY_UID,
    patientId: 'P1',
    studyDate: '20240101',
    volumes: syntheticStudy(STUDY_UID, 11),
    models,
    preparer: createPreparer(),
    ...over,
  };
}

export const NO_LOCALISATION = { ok: false, reason: 'no tumour or node found by the localiser on the ce-t1 series' } as const satisfies LocalisationOutcome;

/** The study's localisation as the runner computes it. */
export function localisationOf(ctx: AnalysisContext, volumes: Record<string, Volume> = ctx.volumes): Promise<LocalisationOutcome> {
  return localiseStudy(ctx, volumes);
}

export function environmentOf(ctx: AnalysisContext): AnalysisEnvironment {
  return { localise: (volumes) => localiseStudy(ctx, volumes) };
}

/** A model source whose `byTask` answer for some tasks is rewritten (the others as `base` gives them). */
export function withModels(base: ModelSource, rewrite: Partial<Record<ModelTask, (models: LoadedModel[]) => LoadedModel[]>>): ModelSource {
  return {
    options: base.options,
    byTask: (task) => {
      const models = base.byTask(task);
      const f = rewrite[task];
      return f ? f(models) : models;
    },
  };
}

/** The model with another cut-off (and, when given, another clinical-combination cut-off). */
export function withCutoff(model: LoadedModel, value: number, clinicalValue?: number): LoadedModel {
  const m = model.manifest;
  const clinical = m.clinical && clinicalValue !== undefined && m.clinical.use === 'logistic' ? { ...m.clinical, cutoff: { ...m.clinical.cutoff, value: clinicalValue } } : m.clinical;
  return { ...model, manifest: { ...m, cutoff: { ...m.cutoff!, value }, ...(clinical ? { clinical } : {}) } };
}

/** The model with a session whose inference fails (a model fault, not a not-assessable study). */
export function faulty(model: LoadedModel, message = 'ONNX runtime: bad allocation'): LoadedModel {
  const session = new Proxy(model.session, {
    get(target, prop) {
      if (prop === 'runBatched') return () => Promise.reject(new Error(message));
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { ...model, session };
}

export const none = (): LoadedModel[] => [];
