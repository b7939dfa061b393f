/** Maintenance: POST /api/v1/maintenance/retention runs retention and the free-space check now (admin). */
import { Router } from 'express';
import type { RetentionService } from '../retention';

export function maintenanceRoutes(retention: Pick<RetentionService, 'run'>): Router {
  const r = Router();
  r.post('/api/v1/maintenance/retention', async (_req, res, next) => {
    try {
      res.json(await retention.run());
    } catch (e) {
      next(e);
    }
  });
  return r;
}
