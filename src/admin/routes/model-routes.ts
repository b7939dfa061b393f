/** GET /api/v1/models: the loaded models (id, version, checksum, provider in use, ...); GET /api/v1/models/{id}. */
import { Router } from 'express';
import type { ModelRegistry } from '../../infer/model-registry';
import { notFound } from '../http-error';

export function modelRoutes(registry: ModelRegistry): Router {
  const r = Router();
  r.get('/api/v1/models', (_req, res) => {
    res.json(registry.summaries());
  });
  r.get('/api/v1/models/:id', (req, res) => {
    const m = registry.get(req.params.id);
    if (!m) throw notFound(`no model ${req.params.id}`);
    const summary = registry.summaries().find((s) => s.id === m.manifest.id)!;
    res.json({ ...summary, manifest: m.manifest });
  });
  return r;
}
