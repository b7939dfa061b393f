/**
 * Clinical covariates API: PUT/GET/DELETE /api/v1/patients/{PatientID}/clinical. The body is validated with
 * units and ranges (400 naming each bad field); the next analysis of that patient uses it. With
 * `?reanalyse=true` the PUT also asks for re-analysis of the patient's studies, when the node wires that in.
 */
import { Router } from 'express';
import { ClinicalCovariatesSchema } from '../../core/clinical-covariates';
import type { ClinicalRepository } from '../../store/clinical-repository';
import { HttpError, badRequest, notFound } from '../http-error';

export interface ClinicalRouteHooks {
  /** Queues re-analysis of the patient's analysed studies; returns what was queued (e.g. job ids). */
  reanalyse?: (patientId: string) => Promise<unknown> | unknown;
}

/** DICOM PatientID: LO, at most 64 characters, no backslash or control characters. */
function patientIdOf(raw: string): string {
  if (!raw || raw.length > 64 || /[\\\x00-\x1f]/.test(raw)) throw badRequest('PatientID: 1-64 characters, no backslash or control characters');
  return raw;
}

export function clinicalRoutes(repo: ClinicalRepository, hooks: ClinicalRouteHooks = {}): Router {
  const r = Router();
  const path = '/api/v1/patients/:patientId/clinical';

  r.get(path, (req, res) => {
    const rec = repo.get(patientIdOf(req.params.patientId));
    if (!rec) throw notFound('no clinical covariates stored for this patient');
    res.json(rec);
  });

  r.put(path, async (req, res) => {
    const patientId = patientIdOf(req.params.patientId);
    if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
      throw badRequest('the body must be a JSON object of clinical covariates');
    }
    const reanalyse = req.query.reanalyse === 'true' || req.query.reanalyse === '1';
    if (reanalyse && !hooks.reanalyse) throw new HttpError(501, 're-analysis on demand is not available in this node');
    const clinical = ClinicalCovariatesSchema.parse(req.body);
    const { record, created } = repo.put(patientId, clinical);
    const body: Record<string, unknown> = { ...record };
    if (reanalyse) body.reanalysis = await hooks.reanalyse!(patientId);
    res.status(created ? 201 : 200).json(body);
  });

  r.delete(path, (req, res) => {
    if (!repo.delete(patientIdOf(req.params.patientId))) throw notFound('no clinical covariates stored for this patient');
    res.status(204).end();
  });
  return r;
}
