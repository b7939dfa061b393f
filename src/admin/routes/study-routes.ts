/** Admin API for received studies (operator contract: GET /api/v1/studies, GET /api/v1/studies/{StudyInstanceUID}). */
import { Router } from 'express';
import { z } from 'zod';
import { isValidUid } from '../../dicom/uids';
import type { StudyAssembler } from '../../assemble/study-assembler';
import type { StudyRepository } from '../../assemble/study-repository';
import type { JobStore } from '../../jobs/job-store';
import { badRequest, conflict, notFound } from '../http-error';
import { PagingSchema, TOTAL_COUNT_HEADER } from './query-params';
import { jobSummaryView } from './job-routes';

export const StudyListQuerySchema = z.object({
  ...PagingSchema,
  state: z.enum(['receiving', 'complete']).optional(),
  aeTitle: z.string().min(1).max(16).optional(),
});
export const StudyDetailQuerySchema = z.object({ aeTitle: z.string().min(1).max(16).optional() });
export const ForceCompleteQuerySchema = z.strictObject({ aeTitle: z.string().min(1).max(16).optional() });

export interface StudyRoutesDeps {
  studies: StudyRepository;
  jobs: JobStore;
  assembler: Pick<StudyAssembler, 'completionStatus' | 'forceComplete'>;
}

export function studyRoutes(deps: StudyRoutesDeps): Router {
  const r = Router();

  /** Newest first; the total before paging is in X-Total-Count. */
  r.get('/api/v1/studies', (req, res) => {
    const q = StudyListQuerySchema.parse(req.query);
    const filter = { state: q.state, calledAeTitle: q.aeTitle };
    res.setHeader(TOTAL_COUNT_HEADER, String(deps.studies.count(filter)));
    res.json(deps.studies.list({ ...filter, limit: q.limit, offset: q.offset }));
  });

  /**
   * One study as received by one local AE title (?aeTitle= chooses when several received it; default the
   * most recent): its series with roles, what completion waits for, and its jobs.
   */
  r.get('/api/v1/studies/:studyInstanceUid', (req, res) => {
    const uid = req.params.studyInstanceUid;
    if (!isValidUid(uid)) throw badRequest(`not a valid StudyInstanceUID: ${JSON.stringify(String(uid).slice(0, 80))}`);
    const q = StudyDetailQuerySchema.parse(req.query);
    const receptions = deps.studies.receptionsOf(uid);
    const study = q.aeTitle ? receptions.find((s) => s.calledAeTitle === q.aeTitle) : receptions[0];
    if (!study) throw notFound(q.aeTitle ? `study ${uid} was not received by AE title ${q.aeTitle}` : `no study ${uid}`);
    const key = { studyInstanceUid: uid, calledAeTitle: study.calledAeTitle };
    const status = deps.assembler.completionStatus(key);
    const roleOf = new Map(Object.entries(status?.roles ?? {}).map(([role, seriesUid]) => [seriesUid, role]));
    const series = deps.studies.seriesOf(key).map((s) => ({ ...s, role: roleOf.get(s.seriesInstanceUid) ?? null }));
    const jobs = deps.jobs.list({ study: uid, limit: 1000 }).filter((j) => j.calledAeTitle === null || j.calledAeTitle === study.calledAeTitle);
    res.json({
      ...study,
      seriesCount: series.length,
      instanceCount: series.reduce((n, s) => n + s.instanceCount, 0),
      series,
      roles: status?.roles ?? {},
      requiredRoles: status?.requiredRoles ?? [],
      missingRoles: status?.missingRoles ?? [],
      nextDecisionAt: status?.nextDecisionAt ?? null,
      quietDeadline: status?.quietDeadline ?? null,
      forceDeadline: status?.forceDeadline ?? null,
      jobs: jobs.map(jobSummaryView),
      otherCalledAeTitles: receptions.filter((s) => s !== study).map((s) => s.calledAeTitle),
    });
  });

  /**
   * Force-complete now (operator): a receiving study completes with reason 'forced' and gets its analysis
   * job at once, whatever is missing. 404 unknown study, 409 already complete.
   */
  r.post('/api/v1/studies/:studyInstanceUid/complete', (req, res) => {
    const uid = req.params.studyInstanceUid;
    if (!isValidUid(uid)) throw badRequest(`not a valid StudyInstanceUID: ${JSON.stringify(String(uid).slice(0, 80))}`);
    const q = ForceCompleteQuerySchema.parse(req.query);
    const receptions = deps.studies.receptionsOf(uid);
    const study = q.aeTitle ? receptions.find((s) => s.calledAeTitle === q.aeTitle) : (receptions.find((s) => s.state === 'receiving') ?? receptions[0]);
    if (!study) throw notFound(q.aeTitle ? `study ${uid} was not received by AE title ${q.aeTitle}` : `no study ${uid}`);
    const key = { studyInstanceUid: uid, calledAeTitle: study.calledAeTitle };
    const outcome = deps.assembler.forceComplete(key);
    if (outcome.outcome === 'not-found') throw notFound(`no study ${uid}`);
    if (outcome.outcome === 'already-complete') {
      throw conflict(`study ${uid} (AE title ${study.calledAeTitle}) is already complete${outcome.completedAt ? ` since ${outcome.completedAt}` : ''}; late instances reopen it, or re-analysis is requested through clinical covariates`);
    }
    res.json({ ...deps.studies.get(key), analysisJob: outcome.job ? jobSummaryView(outcome.job) : null });
  });

  return r;
}
