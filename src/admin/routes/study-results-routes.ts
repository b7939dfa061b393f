/**
 * What the web page's study view shows of a study's results (operator contract):
 * - GET /api/v1/studies/{StudyInstanceUID}/results: the latest analysis job's answers (value, cut-off,
 *   models, clinical covariates used, inputs, research-use statement), its heat maps, the key-slice overlay
 *   (SEG outline, else the localiser's region) and the delivery state per destination;
 * - GET /api/v1/studies/{StudyInstanceUID}/results/{SOPInstanceUID}.png: a stored heat map (Secondary
 *   Capture) rendered as PNG.
 * Read-only: the job results, the delivery jobs and the stored result files.
 */
import { existsSync } from 'node:fs';
import { Router } from 'express';
import { z } from 'zod';
import type { StudyRepository } from '../../assemble/study-repository';
import type { InstanceHeader } from '../../core/instance-header';
import type { DeliveryJob } from '../../deliver/outbox';
import type { Job, JobStore } from '../../jobs/job-store';
import { HttpError, notFound } from '../http-error';
import { keySliceOverlay, type OverlayJobResult } from '../results/key-slice-overlay';
import { readResultDataset, resultFilePath, secondaryCaptureToPng } from '../results/read-result-file';
import { receptionOf } from './study-routes';

export interface StudyResultsRoutesDeps {
  dataDir: string;
  studies: StudyRepository;
  jobs: JobStore;
  /** Delivery jobs of a study (the outbox's list). */
  deliveries: (studyInstanceUid: string) => DeliveryJob[];
  /** A stored source instance's header, by SOP Instance UID. */
  sourceHeader: (sopInstanceUid: string) => InstanceHeader | undefined;
}

export const StudyResultsQuerySchema = z.object({ aeTitle: z.string().min(1).max(16).optional() });

interface ResultView {
  analysis?: string;
  title?: string;
  assessable?: boolean;
  reason?: string;
  value?: string;
  valueText?: string;
  probability?: number;
  group?: string;
  cutoff?: number;
  components?: Record<string, number>;
  models?: { id: string; name?: string; version: string; provider?: string }[];
  clinicalCovariatesUsed?: boolean;
  clinicalVariables?: string[];
  inputs?: { series?: { role: string; seriesInstanceUid: string; seriesDescription?: string; rule?: string }[] };
  notes?: string[];
  statement?: string;
  researchUseOnly?: boolean;
}

interface JobResultView extends OverlayJobResult {
  generation?: number;
  results?: (ResultView & NonNullable<OverlayJobResult['results']>[number])[];
  selectedSeries?: unknown[];
  missingRoles?: Record<string, string>;
  outputs?: { kind?: string; analysis?: string; sopInstanceUid: string; seriesInstanceUid?: string; sopClassUid?: string }[];
}

/** The analysis job whose results count: the newest one that no re-analysis replaced. */
function currentAnalysisJob(jobs: JobStore, uid: string, calledAeTitle: string): Job | undefined {
  const all = jobs.list({ study: uid, kind: 'analysis', limit: 1000 }).filter((j) => j.calledAeTitle === null || j.calledAeTitle === calledAeTitle);
  return all.find((j) => j.supersededBy === null) ?? all[0];
}

export function studyResultsRoutes(deps: StudyResultsRoutesDeps): Router {
  const r = Router();

  r.get('/api/v1/studies/:studyInstanceUid/results', async (req, res) => {
    const study = receptionOf(deps.studies, req.params.studyInstanceUid, StudyResultsQuerySchema.parse(req.query).aeTitle);
    const uid = study.studyInstanceUid;
    const job = currentAnalysisJob(deps.jobs, uid, study.calledAeTitle);
    const result = (job?.state === 'done' ? job.result : null) as JobResultView | null;
    const base = `/api/v1/studies/${encodeURIComponent(uid)}/results`;
    const outputs = result?.outputs ?? [];
    const overlay = result
      ? await keySliceOverlay({
          result,
          sourceHeader: deps.sourceHeader,
          readResult: async (sop) => {
            const file = resultFilePath(deps.dataDir, uid, sop);
            return file && existsSync(file) ? readResultDataset(file) : undefined;
          },
        })
      : undefined;
    const deliveries = job ? deps.deliveries(uid).filter((d) => d.parentJobId === job.id) : [];
    res.json({
      studyInstanceUid: uid,
      calledAeTitle: study.calledAeTitle,
      analysisJob: job ? { id: job.id, state: job.state, generation: job.generation, error: job.error, attempts: job.attempts, createdAt: job.createdAt, updatedAt: job.updatedAt } : null,
      generation: result?.generation ?? null,
      results: (result?.results ?? []).map(resultView),
      selectedSeries: result?.selectedSeries ?? [],
      missingRoles: result?.missingRoles ?? {},
      heatMaps: outputs
        .filter((o) => o.kind === 'sc')
        .map((o) => ({ analysis: o.analysis ?? null, sopInstanceUid: o.sopInstanceUid, png: `${base}/${o.sopInstanceUid}.png` })),
      objects: outputs.map((o) => ({ kind: o.kind ?? null, analysis: o.analysis ?? null, sopInstanceUid: o.sopInstanceUid, sopClassUid: o.sopClassUid ?? null })),
      overlay: overlay ?? null,
      deliveries: deliveries.map((d) => ({
        jobId: d.id,
        destination: d.destination,
        state: d.state,
        attempts: d.attempts,
        sent: d.files.filter((f) => f.state === 'sent').length,
        total: d.files.length,
        error: d.error,
        nextAttemptAt: d.nextAttemptAt,
        updatedAt: d.updatedAt,
      })),
    });
  });

  r.get('/api/v1/studies/:studyInstanceUid/results/:file', async (req, res) => {
    const study = receptionOf(deps.studies, req.params.studyInstanceUid, StudyResultsQuerySchema.parse(req.query).aeTitle);
    const m = /^(.+)\.png$/.exec(req.params.file);
    if (!m) throw notFound(`no route for ${req.method} ${req.path} (heat maps are served as <SOPInstanceUID>.png)`);
    const file = resultFilePath(deps.dataDir, study.studyInstanceUid, m[1]!);
    if (!file || !existsSync(file)) throw notFound(`no stored result object ${m[1]!.slice(0, 64)} of study ${study.studyInstanceUid}`);
    const ds = await readResultDataset(file);
    let png: Buffer;
    try {
      ({ png } = await secondaryCaptureToPng(ds));
    } catch (e) {
      throw new HttpError(415, `result object ${m[1]} is not an image this node renders: ${e instanceof Error ? e.message : String(e)}`);
    }
    res.setHeader('content-type', 'image/png');
    res.setHeader('cache-control', 'private, max-age=60');
    res.send(png);
  });

  return r;
}

function resultView(r: ResultView) {
  const common = { analysis: r.analysis, title: r.title, assessable: r.assessable === true, statement: r.statement, researchUseOnly: r.researchUseOnly ?? true };
  if (!r.assessable) return { ...common, reason: r.reason ?? null };
  return {
    ...common,
    value: r.value,
    valueText: r.valueText,
    probability: r.probability,
    group: r.group ?? null,
    cutoff: r.cutoff ?? null,
    components: r.components ?? null,
    models: (r.models ?? []).map((m) => ({ id: m.id, name: m.name, version: m.version, provider: m.provider })),
    clinicalCovariatesUsed: r.clinicalCovariatesUsed ?? false,
    clinicalVariables: r.clinicalVariables ?? [],
    inputs: { series: r.inputs?.series ?? [] },
    notes: r.notes ?? [],
  };
}
