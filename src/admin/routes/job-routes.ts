/** Admin API for jobs of every kind (operator contract: GET /api/v1/jobs, GET /api/v1/jobs/{id}, POST /api/v1/jobs/{id}/retry). */
import { Router } from 'express';
import { z } from 'zod';
import { JOB_STATES, RETRYABLE_STATES, type Job, type JobKind, type JobStore } from '../../jobs/job-store';
import { badRequest, conflict, notFound } from '../http-error';
import { PagingSchema, TOTAL_COUNT_HEADER } from './query-params';

/** Per-kind retry owners (e.g. delivery resets its backoff); kinds without one are simply re-queued. */
export type RetryHandlers = Partial<Record<JobKind, (id: number) => void>>;

export interface JobRoutesDeps {
  jobs: JobStore;
  retryHandlers?: RetryHandlers;
  /** Told after a job was re-queued by the store (e.g. to wake the analysis worker). */
  onRequeued?: (job: Job) => void;
}

export const JobListQuerySchema = z.object({
  ...PagingSchema,
  state: z.enum(JOB_STATES).optional(),
  kind: z.string().regex(/^[a-z][a-z0-9-]*$/, 'kind: lowercase letters, digits, -').optional(),
  study: z.string().min(1).max(64).optional(),
  aeTitle: z.string().min(1).max(16).optional(),
});

/** A job without its history and result (lists). */
export function jobSummaryView(j: Job) {
  return {
    id: j.id,
    kind: j.kind,
    state: j.state,
    studyInstanceUid: j.studyInstanceUid,
    calledAeTitle: j.calledAeTitle,
    generation: j.generation,
    parentJobId: j.parentJobId,
    supersededBy: j.supersededBy,
    destination: j.destination,
    attempts: j.attempts,
    error: j.error,
    nextAttemptAt: j.nextAttemptAt,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
  };
}

export function jobRoutes(deps: JobRoutesDeps): Router {
  const r = Router();

  /** Newest first; the total before paging is in X-Total-Count. */
  r.get('/api/v1/jobs', (req, res) => {
    const q = JobListQuerySchema.parse(req.query);
    const filter = { state: q.state, kind: q.kind, study: q.study, calledAeTitle: q.aeTitle };
    res.setHeader(TOTAL_COUNT_HEADER, String(deps.jobs.count(filter)));
    res.json(deps.jobs.list({ ...filter, limit: q.limit, offset: q.offset }).map(jobSummaryView));
  });

  r.get('/api/v1/jobs/:id', (req, res) => {
    res.json(loadJob(deps.jobs, req.params.id));
  });

  r.post('/api/v1/jobs/:id/retry', (req, res) => {
    const job = loadJob(deps.jobs, req.params.id);
    if (!RETRYABLE_STATES.includes(job.state)) {
      throw conflict(`job ${job.id} is ${job.state}; only ${RETRYABLE_STATES.join(' or ')} jobs can be retried`);
    }
    const handler = deps.retryHandlers?.[job.kind];
    if (handler) {
      handler(job.id);
    } else {
      const outcome = deps.jobs.retry(job.id, 'retry requested through the admin API');
      if (!outcome.ok) throw conflict(`job ${job.id} can no longer be retried`);
      deps.onRequeued?.(outcome.job);
    }
    res.json(deps.jobs.get(job.id));
  });

  return r;
}

function loadJob(jobs: JobStore, idParam: string): Job {
  if (!/^[1-9][0-9]{0,15}$/.test(idParam)) throw badRequest(`job id must be a positive integer, got ${JSON.stringify(idParam.slice(0, 40))}`);
  const job = jobs.get(Number(idParam));
  if (!job) throw notFound(`no job ${idParam}`);
  return job;
}
