/** What every analysis gets: the study's selected volumes, the models, clinical covariates, ports. */
import type { ModelTask } from '../infer/manifest';
import type { LoadedModel } from '../infer/model-registry';
import type { Volume } from '../prepare/volume-types';
import type { ClinicalCovariates } from './clinical-covariates';
import type { LocalisationResult } from './localisation';
import type { ImagePreparer, PriorStudyProvider } from './ports';

/** The part of the ModelRegistry the analyses use. */
export interface ModelSource {
  byTask(task: ModelTask): LoadedModel[];
  readonly options: { batchSize: number };
}

export interface AnalysisContext {
  studyInstanceUid: string;
  /** Used only to look up the other study; never logged. */
  patientId?: string;
  /** DICOM DA of this study (YYYYMMDD). */
  studyDate?: string;
  /** Selected series of this study by role (t1, t2, ce-t1). */
  volumes: Record<string, Volume>;
  clinical?: ClinicalCovariates;
  models: ModelSource;
  preparer: ImagePreparer;
  priorStudies?: PriorStudyProvider;
  computeCams?: boolean;
}

/** Localisation of this study, or why there is none (then every ROI-based analysis is not assessable). */
export type LocalisationOutcome = { ok: true; result: LocalisationResult } | { ok: false; reason: string };
