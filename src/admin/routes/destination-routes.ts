/**
 * Admin API for destinations (operator contract: /api/v1/destinations): where results go, by DIMSE
 * (C-STORE) or DICOMweb (STOW-RS), and a verification call (C-ECHO or an HTTP check).
 * The authorization secret of a DICOMweb destination is never returned, only whether one is set.
 */
import { Router } from 'express';
import { DestinationSchema, type Destination } from '../../core/destination-schemas';
import type { SettingsRepository } from '../../store/settings-repository';
import { echoDestination, keptOnUpdate, publicDestination } from '../../deliver/destination-types';
import { badRequest, conflict, notFound } from '../http-error';

export interface DestinationRoutesOptions {
  /** Seconds to wait for a C-ECHO or HTTP check. */
  echoTimeoutSeconds: number;
}

export function destinationRoutes(settings: SettingsRepository, opts: DestinationRoutesOptions): Router {
  const r = Router();

  r.get('/api/v1/destinations', (_req, res) => {
    res.json(settings.destinations.list().map(publicDestination));
  });
  r.post('/api/v1/destinations', (req, res) => {
    const v = DestinationSchema.parse(req.body);
    if (settings.destinations.get(v.name)) throw conflict(`destination ${v.name} exists; use PUT to change it`);
    res.status(201).json(publicDestination(settings.destinations.put(v)));
  });
  r.get('/api/v1/destinations/:name', (req, res) => {
    res.json(publicDestination(find(settings, req.params.name)));
  });
  r.put('/api/v1/destinations/:name', (req, res) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
    const existing = settings.destinations.get(req.params.name);
    // A PUT without the secret keeps the stored one (the API never shows it, so clients cannot echo it back).
    const v = DestinationSchema.parse({ ...body, name: body.name ?? req.params.name, ...(existing ? keptOnUpdate(existing, body) : {}) });
    if (v.name !== req.params.name) throw badRequest('name in the body differs from the path');
    res.status(existing ? 200 : 201).json(publicDestination(settings.destinations.put(v)));
  });
  r.delete('/api/v1/destinations/:name', (req, res) => {
    const d = find(settings, req.params.name);
    const users = settings.aeTitles.list().filter((a) => a.destinations.includes(d.name) || a.priors.from.includes(d.name)).map((a) => a.aeTitle);
    if (users.length) throw conflict(`destination ${d.name} is used by local AE title(s) ${users.join(', ')}; remove it there first`);
    settings.destinations.delete(d.name);
    res.status(204).end();
  });
  r.post('/api/v1/destinations/:name/echo', async (req, res) => {
    const d = find(settings, req.params.name);
    const locals = settings.aeTitles.list();
    const callingAeTitle = (locals.find((a) => a.destinations.includes(d.name)) ?? locals[0])?.aeTitle ?? 'NPCAI';
    res.json(await echoDestination(d, { callingAeTitle, timeoutSeconds: opts.echoTimeoutSeconds }));
  });
  return r;
}

function find(settings: SettingsRepository, name: string): Destination {
  const d = settings.destinations.get(name);
  if (!d) throw notFound(`no destination ${name}`);
  return d;
}
