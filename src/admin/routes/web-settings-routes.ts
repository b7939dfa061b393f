/** The web page's settings (operator contract: GET/PUT /api/v1/settings/web), stored and surviving restarts. */
import { Router } from 'express';
import { WebSettingsSchema, type WebSettingsRepository } from '../../store/web-settings';
import { badRequest } from '../http-error';

export function webSettingsRoutes(web: WebSettingsRepository): Router {
  const r = Router();
  r.get('/api/v1/settings/web', (_req, res) => {
    res.json(web.get());
  });
  /** The whole value, or a part of it (fields left out keep their stored value). */
  r.put('/api/v1/settings/web', (req, res) => {
    const body: unknown = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object, e.g. {"showPatientNames": true}');
    const v = WebSettingsSchema.parse({ ...web.get(), ...body });
    res.json(web.put(v));
  });
  return r;
}
