/**
 * A patient's other MR study for the progression analysis (paper 001 needs pre- and post-treatment MR):
 * first the node's own store (by PatientID), else the study the priors stage fetched from a PACS for this
 * study (src/priors: C-FIND/C-MOVE/C-GET, QIDO-RS/WADO-RS), waited for up to the retrieval's deadline. When
 * the retrieval failed, its message is the "not assessable" reason (PACS unreachable, no match, ...).
 */
import type { OtherStudy, OtherStudyUnavailable, PriorStudyProvider } from '../analyses/ports';
import type { SelectionRule } from '../config/schema';
import type { WorkerPool } from '../prepare';
import type { StudyRepository } from '../assemble/study-repository';
import type { InstanceStore } from '../store/instance-store';
import type { PriorRetrieval } from '../priors';
import { buildStudyVolumes } from './study-volumes';

export interface StorePriorStudyDeps {
  studies: Pick<StudyRepository, 'otherStudiesOfPatient'>;
  store: InstanceStore;
  rules: SelectionRule[];
  pool?: WorkerPool;
  /** The priors stage, when the node fetches priors from a PACS. */
  priors?: Pick<PriorRetrieval, 'hasRetrieval' | 'isPriorStudy' | 'remainingMs' | 'whenReady'>;
}

export class StorePriorStudyProvider implements PriorStudyProvider {
  constructor(private readonly deps: StorePriorStudyDeps) {}

  async findOtherStudy(q: { patientId: string; studyInstanceUid: string; studyDate?: string }): Promise<OtherStudy | OtherStudyUnavailable | undefined> {
    const { priors } = this.deps;
    // A study the priors stage fetches (or is fetching) is taken from its outcome below, never half-arrived.
    const inStore = await this.fromStore(q, (uid) => priors?.isPriorStudy(uid) === true);
    if (inStore) return inStore;
    if (!priors?.hasRetrieval(q.studyInstanceUid)) return undefined;
    const outcome = await priors.whenReady(q.studyInstanceUid, priors.remainingMs(q.studyInstanceUid) + 1000);
    if (!outcome.ok) return { unavailable: outcome.message };
    const prior = outcome.study;
    const sv = await buildStudyVolumes(this.deps.store.listStudyInstances(prior.studyInstanceUid), this.deps.rules, this.deps.pool ? { pool: this.deps.pool } : {});
    if (!Object.keys(sv.volumes).length) {
      return { unavailable: `the prior study ${prior.studyInstanceUid} fetched from ${prior.source} has none of the series the models need` };
    }
    return {
      studyInstanceUid: prior.studyInstanceUid,
      ...(prior.studyDate ? { studyDate: prior.studyDate } : {}),
      volumes: sv.volumes,
      source: prior.method === 'already-stored' ? 'store' : 'pacs',
    };
  }

  private async fromStore(q: { patientId: string; studyInstanceUid: string; studyDate?: string }, skip: (uid: string) => boolean): Promise<OtherStudy | undefined> {
    const rows = this.deps.studies
      .otherStudiesOfPatient(q.patientId, q.studyInstanceUid)
      .map((r) => ({ uid: r.studyInstanceUid, date: r.studyDate }))
      .filter((r) => !skip(r.uid));
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
