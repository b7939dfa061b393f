/**
 * Quarantine API: instances held apart because their patient identity differs from their study's
 * (storage.patientIdentityMismatch 'quarantine'). GET /api/v1/quarantine lists them (UIDs, AE titles, which
 * attribute differed: no patient data); POST /api/v1/quarantine/{sop}/release stores one in its study (an
 * admin decided it is the same patient); DELETE /api/v1/quarantine/{sop} removes it.
 */
import { Router } from 'express';
import type { InstanceStore } from '../../store/instance-store';
import { isValidUid } from '../../dicom/uids';
import { HttpError, badRequest, notFound } from '../http-error';

function sopOf(raw: string): string {
  if (!isValidUid(raw)) throw badRequest('SOP Instance UID: digits and dots, at most 64 characters');
  return raw;
}

export function quarantineRoutes(store: Pick<InstanceStore, 'listQuarantine' | 'releaseFromQuarantine' | 'deleteFromQuarantine'>): Router {
  const r = Router();
  r.get('/api/v1/quarantine', (_req, res) => {
    res.json({ instances: store.listQuarantine() });
  });
  r.post('/api/v1/quarantine/:sop/release', async (req, res) => {
    const outcome = await store.releaseFromQuarantine(sopOf(req.params.sop));
    if (!outcome) throw notFound('no quarantined instance with this SOP Instance UID');
    if (!outcome.ok) throw new HttpError(outcome.httpStatus, `release failed: ${outcome.reason}`);
    res.json({ released: outcome.instance.sopInstanceUid, studyInstanceUid: outcome.instance.studyInstanceUid, duplicate: outcome.duplicate });
  });
  r.delete('/api/v1/quarantine/:sop', async (req, res) => {
    if (!(await store.deleteFromQuarantine(sopOf(req.params.sop)))) throw notFound('no quarantined instance with this SOP Instance UID');
    res.status(204).end();
  });
  return r;
}
