/**
 * Runs the node's serving path (src/pipeline/analyseStudy: the store's header reader, rule-based series
 * selection, volumes, localiser, every analysis) on one patient of a cohort folder, with the patient's
 * post-treatment folder as the other study and, optionally, the cohort's clinical record as covariates.
 * Used by the golden test of the shipped models and by the replace-a-model test.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AnalysisId } from '../analyses/types';
import type { ClinicalCovariates } from '../analyses/clinical-covariates';
import type { ModelSource } from '../analyses/context';
import type { OtherStudy, PriorStudyProvider } from '../analyses/ports';
import type { AnalysesOutcome } from '../analyses/run-analyses';
import type { SelectionRule } from '../config/schema';
import type { WorkerPool } from '../prepare';
import type { Volume } from '../prepare/volume-types';
import type { StoredInstance } from '../store/instance-types';
import { analyseStudy } from '../pipeline/analyse-study';
import { instancesFromFiles } from '../pipeline/instances-from-files';
import { cohortStudyFiles } from './cohort-study';
import { buildStudyVolumes } from '../pipeline/study-volumes';

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

/** The Part 10 instances of one study folder (the masks/ folder of a synthetic cohort left out). */
export async function cohortStudyInstances(studyDir: string, acceptedTransferSyntaxes: ReadonlySet<string>): Promise<StoredInstance[]> {
  if (!fs.existsSync(studyDir)) return [];
  return (await instancesFromFiles(await cohortStudyFiles(studyDir), { acceptedTransferSyntaxes })).instances;
}

/** A prior-study source over a cohort's other study folder (built only when an analysis asks for it). */
export function folderPriorStudy(studyDir: string, opts: CohortStudyOptions): PriorStudyProvider {
  return {
    async findOtherStudy(): Promise<OtherStudy | undefined> {
      const instances = await cohortStudyInstances(studyDir, opts.acceptedTransferSyntaxes);
      if (!instances.length) return undefined;
      const sv = await buildStudyVolumes(instances, opts.rules, { pool: opts.pool });
      const date = instances[0]!.header.StudyDate;
      return { studyInstanceUid: instances[0]!.studyInstanceUid, ...(date ? { studyDate: date } : {}), volumes: sv.volumes, source: 'store' };
    },
  };
}

export async function analyseCohortPatient(
  patientDir: string,
  models: ModelSource,
  analyses: readonly AnalysisId[],
  opts: CohortStudyOptions & { clinical?: ClinicalCovariates; computeCams?: boolean },
): Promise<AnalysesOutcome & { study: LoadedStudy }> {
  const pre = await cohortStudyInstances(path.join(patientDir, 'pre'), opts.acceptedTransferSyntaxes);
  if (!pre.length) throw new Error(`${patientDir}: no pre-treatment study`);
  const a = await analyseStudy(
    {
      studyInstanceUid: pre[0]!.studyInstanceUid,
      instances: pre,
      analyses,
      ...(opts.clinical ? { clinical: opts.clinical } : {}),
      priorStudies: folderPriorStudy(path.join(patientDir, 'post'), opts),
      computeCams: opts.computeCams ?? false,
    },
    { models, rules: opts.rules, pool: opts.pool },
  );
  const h = a.studyHeader;
  return {
    ...(a.localisation ? { localisation: a.localisation } : {}),
    results: a.results,
    study: {
      studyInstanceUid: h.StudyInstanceUID,
      ...(h.StudyDate ? { studyDate: h.StudyDate } : {}),
      ...(typeof h.PatientID === 'string' ? { patientId: h.PatientID } : {}),
      volumes: a.volumes,
    },
  };
}
