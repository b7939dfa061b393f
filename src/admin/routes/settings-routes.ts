/** Admin API for local AE titles and sources (operator contract: /api/v1/ae-titles, /api/v1/sources). */
import { Router } from 'express';
import { LocalAeTitleSchema, SourceSchema } from '../../config/schema';
import type { SettingsRepository } from '../../store/settings-repository';
import { HttpError, badRequest, conflict, notFound } from '../http-error';

export function settingsRoutes(settings: SettingsRepository): Router {
  const r = Router();

  r.get('/api/v1/ae-titles', (_req, res) => {
    res.json(settings.aeTitles.list());
  });
  r.post('/api/v1/ae-titles', (req, res) => {
    const v = LocalAeTitleSchema.parse(req.body);
    if (settings.aeTitles.get(v.aeTitle)) throw conflict(`AE title ${v.aeTitle} exists; use PUT to change it`);
    checkDestinations(settings, v.destinations);
    checkDestinations(settings, v.priors.from, 'priors.from');
    res.status(201).json(settings.aeTitles.put(v));
  });
  r.get('/api/v1/ae-titles/:aeTitle', (req, res) => {
    const v = settings.aeTitles.get(req.params.aeTitle);
    if (!v) throw notFound(`no local AE title ${req.params.aeTitle}`);
    res.json(v);
  });
  r.put('/api/v1/ae-titles/:aeTitle', (req, res) => {
    const v = LocalAeTitleSchema.parse({ ...req.body, aeTitle: req.body?.aeTitle ?? req.params.aeTitle });
    if (v.aeTitle !== req.params.aeTitle) throw badRequest('aeTitle in the body differs from the path');
    checkDestinations(settings, v.destinations);
    checkDestinations(settings, v.priors.from, 'priors.from');
    const existed = !!settings.aeTitles.get(v.aeTitle);
    res.status(existed ? 200 : 201).json(settings.aeTitles.put(v));
  });
  r.delete('/api/v1/ae-titles/:aeTitle', (req, res) => {
    if (!settings.aeTitles.get(req.params.aeTitle)) throw notFound(`no local AE title ${req.params.aeTitle}`);
    if (settings.aeTitles.list().length === 1) throw conflict('the last local AE title cannot be deleted');
    settings.aeTitles.delete(req.params.aeTitle);
    res.status(204).end();
  });

  r.get('/api/v1/sources', (_req, res) => {
    res.json(settings.sources.list());
  });
  r.post('/api/v1/sources', (req, res) => {
    const v = SourceSchema.parse(req.body);
    if (settings.sources.get(v.aeTitle)) throw conflict(`source ${v.aeTitle} exists; use PUT to change it`);
    res.status(201).json(settings.sources.put(v));
  });
  r.get('/api/v1/sources/:aeTitle', (req, res) => {
    const v = settings.sources.get(req.params.aeTitle);
    if (!v) throw notFound(`no source ${req.params.aeTitle}`);
    res.json(v);
  });
  r.put('/api/v1/sources/:aeTitle', (req, res) => {
    const v = SourceSchema.parse({ ...req.body, aeTitle: req.body?.aeTitle ?? req.params.aeTitle });
    if (v.aeTitle !== req.params.aeTitle) throw badRequest('aeTitle in the body differs from the path');
    const existed = !!settings.sources.get(v.aeTitle);
    res.status(existed ? 200 : 201).json(settings.sources.put(v));
  });
  r.delete('/api/v1/sources/:aeTitle', (req, res) => {
    if (!settings.sources.delete(req.params.aeTitle)) throw notFound(`no source ${req.params.aeTitle}`);
    res.status(204).end();
  });
  return r;
}

function checkDestinations(settings: SettingsRepository, names: string[], field?: string): void {
  const missing = names.filter((n) => !settings.destinations.get(n));
  if (missing.length) throw new HttpError(400, `${field ? `${field}: ` : ''}unknown destination(s): ${missing.join(', ')}`);
}
