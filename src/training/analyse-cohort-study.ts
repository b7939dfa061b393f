/**
 * Runs the node's serving path on one patient of a cohort folder: rule-based series selection on the
 * instance headers, volumes from src/prepare, the localiser and every analysis (src/analyses runAnalyses)
 * with the src/prepare-backed ImagePreparer, the patient's other study (post-treatment folder) as the prior
 * study, and the cohort's clinical record as covariates. Used by the golden test of the shipped models and
 * by validation runs over a held-out cohort.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AnalysisId } from '../analyses/types';
import type { ClinicalCovariates } from '../analyses/clinical-covariates';
import type { ModelSource } from '../analyses/context';
import { createPreparer } from '../analyses/prepare-adapter';
import type { OtherStudy, PriorStudyProvider } from '../analyses/ports';
import { runAnalyses, type AnalysesOutcome } from '../analyses/run-analyses';
import type { SelectionRule } from '../config/schema';
import type { WorkerPool } from '../prepare';
import type { Volume } from '../prepare/volume-types';
import { buildRoleVolume, selectStudy } from './cohort-study';

export const ANALYSED_ROLES = ['t1', 't2', 'ce-t1'] as const;

export interface CohortStudyOptions {
  rules: SelectionRule[];
  acceptedTransferSyntaxes: ReadonlySet<string>;
  pool: WorkerPool;
}

export interface LoadedStudy {
  studyInstanceUid: string;
  studyDate?: string;
  patientId?: string;
  volumes: Record<string, Volume>;
}

/** Selects and builds the analysed series of one study folder (undefined when the folder is missing). */
export async function loadCohortStudy(studyDir: string, opts: CohortStudyOptions): Promise<LoadedStudy | undefined> {
  if (!fs.existsSync(studyDir)) return undefined;
  const study = selectStudy(studyDir, opts.rules, opts.acceptedTransferSyntaxes);
  const volumes: Record<string, Volume> = {};
  for (const role of ANALYSED_ROLES) {
    const v = await buildRoleVolume(study, role, opts.pool);
    if (v) volumes[role] = v;
  }
  const header = study.files.series[0]?.headers[0];
  if (!header) return undefined;
  return {
    studyInstanceUid: header.StudyInstanceUID,
    ...(header.StudyDate ? { studyDate: header.StudyDate } : {}),
    ...(header.PatientID ? { patientId: header.PatientID } : {}),
    volumes,
  };
}

/** A prior-study source over a fixed other study (the cohort's post-treatment folder). */
export function fixedPriorStudy(other: LoadedStudy | undefined): PriorStudyProvider {
  return {
    async findOtherStudy(): Promise<OtherStudy | undefined> {
      if (!other) return undefined;
      return { studyInstanceUid: other.studyInstanceUid, ...(other.studyDate ? { studyDate: other.studyDate } : {}), volumes: other.volumes, source: 'store' };
    },
  };
}

export async function analyseCohortPatient(
  patientDir: string,
  models: ModelSource,
  analyses: readonly AnalysisId[],
  opts: CohortStudyOptions & { clinical?: ClinicalCovariates; computeCams?: boolean },
): Promise<AnalysesOutcome & { study: LoadedStudy }> {
  const pre = await loadCohortStudy(path.join(patientDir, 'pre'), opts);
  if (!pre) throw new Error(`${patientDir}: no pre-treatment study`);
  const post = await loadCohortStudy(path.join(patientDir, 'post'), opts);
  const outcome = await runAnalyses(
    {
      studyInstanceUid: pre.studyInstanceUid,
      ...(pre.patientId ? { patientId: pre.patientId } : {}),
      ...(pre.studyDate ? { studyDate: pre.studyDate } : {}),
      volumes: pre.volumes,
      ...(opts.clinical ? { clinical: opts.clinical } : {}),
      models,
      preparer: createPreparer({ pool: opts.pool }),
      priorStudies: fixedPriorStudy(post),
      computeCams: opts.computeCams ?? false,
    },
    analyses,
  );
  return { ...outcome, study: pre };
}
