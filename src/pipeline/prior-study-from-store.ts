/**
 * A patient's other MR study for the progression analysis (paper 001 needs pre- and post-treatment MR),
 * found in the node's own store by PatientID. Fetching from a PACS (C-FIND/C-MOVE, QIDO/WADO) would be a
 * second PriorStudyProvider behind the same port.
 */
import type { OtherStudy, PriorStudyProvider } from '../analyses/ports';
import type { SelectionRule } from '../config/schema';
import type { WorkerPool } from '../prepare';
import type { StudyRepository } from '../assemble/study-repository';
import type { InstanceStore } from '../store/instance-store';
import { buildStudyVolumes } from './study-volumes';

export class StorePriorStudyProvider implements PriorStudyProvider {
  constructor(private readonly deps: { studies: Pick<StudyRepository, 'otherStudiesOfPatient'>; store: InstanceStore; rules: SelectionRule[]; pool?: WorkerPool }) {}

  async findOtherStudy(q: { patientId: string; studyInstanceUid: string; studyDate?: string }): Promise<OtherStudy | undefined> {
    const rows = this.deps.studies.otherStudiesOfPatient(q.patientId, q.studyInstanceUid).map((r) => ({ uid: r.studyInstanceUid, date: r.studyDate }));
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
