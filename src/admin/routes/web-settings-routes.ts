/** The web page's settings (operator contract: GET/PUT /api/v1/settings/web), stored and surviving restarts. */
import { Router } from 'express';
import { WebSettingsSchema, type WebSettingsRepository } from '../../store/web-settings';

export function webSettingsRoutes(web: WebSettingsRepository): Router {
  const r = Router();
  r.get('/api/v1/settings/web', (_req, res) => {
    res.json(web.get());
  });
  /** The whole value, or a part of it (fields left out keep their stored value). */
  r.put('/api/v1/settings/web', (req, res) => {
    const v = WebSettingsSchema.parse({ ...web.get(), ...(req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body : { invalid: req.body }) });
    res.json(web.put(v));
  });
  return r;
}
