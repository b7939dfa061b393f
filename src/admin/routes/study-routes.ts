/**
 * Admin API for received studies (operator contract): GET /api/v1/studies (search by accession number, study
 * date, StudyInstanceUID), GET /api/v1/studies/{StudyInstanceUID} (series with their roles or why a role is
 * missing, completion deadlines, jobs) and POST /api/v1/studies/{StudyInstanceUID}/complete (force-complete now).
 * PatientName appears only when the web setting showPatientNames is on.
 */
import { Router } from 'express';
import { z } from 'zod';
import { isValidUid } from '../../dicom/uids';
import type { StudyAssembler } from '../../assemble/study-assembler';
import { attributesOf, type StudyRepository, type StudyRecord } from '../../assemble/study-repository';
import type { SelectionRule } from '../../config/schema';
import type { JobStore } from '../../jobs/job-store';
import { selectSeries } from '../../select';
import { badRequest, conflict, notFound } from '../http-error';
import { patientNameField } from './patient-name';
import { PagingSchema, TOTAL_COUNT_HEADER } from './query-params';
import { jobSummaryView } from './job-routes';

export const StudyListQuerySchema = z.object({
  ...PagingSchema,
  state: z.enum(['receiving', 'complete']).optional(),
  aeTitle: z.string().min(1).max(16).optional(),
  studyInstanceUid: z.string().min(1).max(64).refine(isValidUid, 'studyInstanceUid: not a valid UID').optional(),
  accessionNumber: z.string().trim().min(1).max(16).optional(),
  /** YYYYMMDD, or a range YYYYMMDD-YYYYMMDD (either end may be left open); dashes inside dates are allowed. */
  studyDate: z
    .string()
    .trim()
    .transform((v) => v.replace(/(\d{4})-(\d{2})-(\d{2})/g, '$1$2$3'))
    .pipe(z.string().regex(/^(\d{8})?(-(\d{8})?)?$/, 'studyDate: YYYYMMDD or YYYYMMDD-YYYYMMDD'))
    .optional(),
});
export const StudyDetailQuerySchema = z.object({ aeTitle: z.string().min(1).max(16).optional() });
export const ForceCompleteQuerySchema = z.strictObject({ aeTitle: z.string().min(1).max(16).optional() });

/**
 * The force-complete answer, for the OpenAPI document: `job` is the contract's name (docs/operator-contract.md);
 * `analysisJob` is a deprecated alias with the same value, answered for one release (0.1.x) because scripts
 * written against the web page's branch may read it, and removed in the next.
 */
export const FORCE_COMPLETE_RESPONSE_SCHEMA: Record<string, unknown> = {
  type: 'object',
  description: 'The study record after force-complete (every field of GET /api/v1/studies/{uid} but the patient name), with:',
  properties: {
    message: { type: 'string' },
    job: { type: ['object', 'null'], description: 'the analysis job created (as in GET /api/v1/jobs), null when none was' },
    analysisJob: {
      type: ['object', 'null'],
      deprecated: true,
      description: 'Deprecated alias of `job` (the same value), answered in release 0.1.x only and removed in the next: read `job`.',
    },
  },
  required: ['message', 'job'],
};

export interface StudyRoutesDeps {
  studies: StudyRepository;
  jobs: JobStore;
  assembler: Pick<StudyAssembler, 'completionStatus' | 'forceComplete'>;
  /** The selection rules (config selection.rules): why each series got its role or none. */
  rules?: SelectionRule[];
  /** Whether responses carry PatientName (web.showPatientNames), read at each request. */
  showPatientNames?: () => boolean;
  now?: () => number;
}

function studyDateRange(v: string | undefined): { studyDateFrom?: string; studyDateTo?: string } {
  if (!v) return {};
  if (!v.includes('-')) return { studyDateFrom: v, studyDateTo: v };
  const [from, to] = v.split('-');
  return { ...(from ? { studyDateFrom: from } : {}), ...(to ? { studyDateTo: to } : {}) };
}

export function studyRoutes(deps: StudyRoutesDeps): Router {
  const r = Router();

  /** Newest first; the total before paging is in X-Total-Count. */
  r.get('/api/v1/studies', (req, res) => {
    const q = StudyListQuerySchema.parse(req.query);
    const search = {
      ...(q.state ? { state: q.state } : {}),
      ...(q.aeTitle ? { calledAeTitle: q.aeTitle } : {}),
      ...(q.studyInstanceUid ? { studyInstanceUid: q.studyInstanceUid } : {}),
      ...(q.accessionNumber ? { accessionNumber: q.accessionNumber } : {}),
      ...studyDateRange(q.studyDate),
    };
    const show = deps.showPatientNames?.() ?? false;
    res.setHeader(TOTAL_COUNT_HEADER, String(deps.studies.searchCount(search)));
    res.json(deps.studies.search({ ...search, limit: q.limit, offset: q.offset }).map(({ patientName, ...s }) => ({ ...s, ...patientNameField(patientName, show) })));
  });

  /**
   * One study as received by one local AE title (?aeTitle= chooses when several received it; default the
   * most recent): its series with roles, what completion waits for, and its jobs.
   */
  r.get('/api/v1/studies/:studyInstanceUid', (req, res) => {
    const study = receptionOf(deps.studies, req.params.studyInstanceUid, StudyDetailQuerySchema.parse(req.query).aeTitle);
    const uid = study.studyInstanceUid;
    const key = { studyInstanceUid: uid, calledAeTitle: study.calledAeTitle };
    const status = deps.assembler.completionStatus(key);
    const roleOf = new Map(Object.entries(status?.roles ?? {}).map(([role, seriesUid]) => [seriesUid, role]));
    const headers = deps.studies.seriesHeadersOf(key);
    const selection = deps.rules ? selectSeries(headers, deps.rules) : undefined;
    const ruleOf = new Map([...(selection?.selected ?? new Map())].map(([, s]) => [s.seriesInstanceUid, s.rule as string]));
    const rejectedOf = new Map((selection?.rejected ?? []).map((s) => [s.seriesInstanceUid, s.reasons]));
    const series = deps.studies.seriesOf(key).map((s) => ({
      ...s,
      role: roleOf.get(s.seriesInstanceUid) ?? null,
      ...(selection ? { selectionRule: ruleOf.get(s.seriesInstanceUid) ?? null, notSelectedBecause: rejectedOf.get(s.seriesInstanceUid) ?? [] } : {}),
    }));
    const jobs = deps.jobs.list({ study: uid, limit: 1000 }).filter((j) => j.calledAeTitle === null || j.calledAeTitle === study.calledAeTitle);
    const { patientName, ...attributes } = attributesOf(JSON.stringify(headers[0]?.headers[0] ?? {}));
    const now = deps.now?.() ?? Date.now();
    const forceDeadline = status?.forceDeadline ?? null;
    res.json({
      ...study,
      ...attributes,
      ...patientNameField(patientName, deps.showPatientNames?.() ?? false),
      seriesCount: series.length,
      instanceCount: series.reduce((n, s) => n + s.instanceCount, 0),
      series,
      roles: status?.roles ?? {},
      requiredRoles: status?.requiredRoles ?? [],
      missingRoles: status?.missingRoles ?? [],
      /** Why each missing role has no series, in the selector's words. */
      missingRoleReasons: Object.fromEntries((status?.missingRoles ?? []).map((role) => [role, selection?.missing.get(role) ?? `no series fills role ${role}`])),
      nextDecisionAt: status?.nextDecisionAt ?? null,
      quietDeadline: status?.quietDeadline ?? null,
      forceDeadline,
      /** Seconds until force-complete (0 when due), null when the study is not receiving. */
      forceCompleteInSeconds: forceDeadline ? Math.max(0, Math.round((Date.parse(forceDeadline) - now) / 1000)) : null,
      jobs: jobs.map(jobSummaryView),
      otherCalledAeTitles: deps.studies.receptionsOf(uid).filter((s) => s.calledAeTitle !== study.calledAeTitle).map((s) => s.calledAeTitle),
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
      throw conflict(`study ${uid} (AE title ${study.calledAeTitle}) is already complete${outcome.completedAt ? ` since ${outcome.completedAt}` : ''}; late instances reopen it, or re-analysis is requested through clinical covariates (PUT /api/v1/patients/{PatientID}/clinical?reanalyse=true)`);
    }
    const job = outcome.job ? jobSummaryView(outcome.job) : null;
    const { patientName, ...view } = deps.studies.get(key) as StudyRecord & { patientName?: string };
    void patientName;
    res.json({
      message: `study ${uid} force-completed${job ? `; analysis job ${job.id} queued` : ''}`,
      ...view,
      job,
      // Deprecated alias of `job` for one release (FORCE_COMPLETE_RESPONSE_SCHEMA); remove after 0.1.x.
      analysisJob: job,
    });
  });

  return r;
}

/** The reception of a study named in the path (?aeTitle= chooses; default the most recent); 400/404 otherwise. */
export function receptionOf(studies: StudyRepository, uid: string, aeTitle: string | undefined): StudyRecord {
  if (!isValidUid(uid)) throw badRequest(`not a valid StudyInstanceUID: ${JSON.stringify(String(uid).slice(0, 80))}`);
  const receptions = studies.receptionsOf(uid);
  const study = aeTitle ? receptions.find((s) => s.calledAeTitle === aeTitle) : receptions[0];
  if (!study) throw notFound(aeTitle ? `study ${uid} was not received by AE title ${aeTitle}` : `no study ${uid}`);
  return study;
}
