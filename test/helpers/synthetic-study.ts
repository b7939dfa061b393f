/** Writes synthetic patients (src/synth) to a temp dir and lists a study's files, optionally without some roles. */
import path from 'node:path';
import { writeCohort } from '../../src/synth/cohort';
import { listDicomFiles } from '../../src/pipeline/instances-from-files';

export interface SyntheticStudy {
  dir: string;
  patientId: string;
  studyInstanceUid: string;
  /** Files of the study, optionally leaving out series of some roles. */
  files(opts?: { withoutRoles?: string[]; study?: 'pre' | 'post' }): Promise<string[]>;
  labels: Record<string, unknown>;
}

export async function writeSyntheticPatient(dir: string, seed: number, opts: { withFollowup?: boolean } = {}): Promise<SyntheticStudy> {
  const cohort = await writeCohort(dir, { patients: 1, seed, matrix: 256, withFollowup: opts.withFollowup ?? false });
  const labels = cohort.labels[0] as unknown as { PatientID: string; StudyInstanceUID: string; studies: { label: string; series: { role: string; folder: string }[] }[] };
  return {
    dir,
    patientId: labels.PatientID,
    studyInstanceUid: labels.StudyInstanceUID,
    labels: labels as unknown as Record<string, unknown>,
    async files(o = {}) {
      const study = labels.studies.find((s) => s.label === (o.study ?? 'pre'))!;
      const out: string[] = [];
      for (const s of study.series) {
        if (o.withoutRoles?.includes(s.role)) continue;
        out.push(...(await listDicomFiles(path.join(dir, labels.PatientID, study.label, s.folder))));
      }
      return out;
    },
  };
}
