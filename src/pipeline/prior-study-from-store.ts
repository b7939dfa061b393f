/**
 * A patient's other MR study for the progression analysis (paper 001 needs pre- and post-treatment MR),
 * found in the node's own store by PatientID. Fetching from a PACS (C-FIND/C-MOVE, QIDO/WADO) would be a
 * second PriorStudyProvider behind the same port.
 */
import type { OtherStudy, PriorStudyProvider } from '../analyses/ports';
import type { SelectionRule } from '../config/schema';
import type { WorkerPool } from '../prepare';
import type { Db } from '../store/database';
import type { InstanceStore } from '../store/instance-store';
import { buildStudyVolumes } from './study-volumes';

export class StorePriorStudyProvider implements PriorStudyProvider {
  constructor(private readonly deps: { db: Db; store: InstanceStore; rules: SelectionRule[]; pool?: WorkerPool }) {}

  async findOtherStudy(q: { patientId: string; studyInstanceUid: string; studyDate?: string }): Promise<OtherStudy | undefined> {
    // The studies table knows each study's patient (indexed), so this never scans the instance headers.
    const rows = this.deps.db
      .prepare(
        `SELECT DISTINCT s.study_instance_uid AS uid,
                (SELECT json_extract(i.header_json, '$.StudyDate') FROM instances i WHERE i.study_instance_uid = s.study_instance_uid LIMIT 1) AS date
           FROM studies s
          WHERE s.patient_id = ? AND s.study_instance_uid <> ?`,
      )
      .all(q.patientId, q.studyInstanceUid) as { uid: string; date: string | null }[];
    // The nearest study in time that differs in date (the progression models pair pre- and post-treatment).
    const candidates = rows
      .filter((r) => r.date && r.date !== q.studyDate)
      .sort((a, b) => Math.abs(dateNumber(a.date!) - dateNumber(q.studyDate)) - Math.abs(dateNumber(b.date!) - dateNumber(q.studyDate)));
    for (const c of candidates) {
      const sv = await buildStudyVolumes(this.deps.store.listStudyInstances(c.uid), this.deps.rules, this.deps.pool ? { pool: this.deps.pool } : {});
      if (Object.keys(sv.volumes).length) return { studyInstanceUid: c.uid, studyDate: c.date!, volumes: sv.volumes, source: 'store' };
    }
    return undefined;
  }
}

function dateNumber(da: string | undefined): number {
  if (!da || !/^\d{8}$/.test(da)) return 0;
  return Date.UTC(+da.slice(0, 4), +da.slice(4, 6) - 1, +da.slice(6, 8));
}
