/** GET /api/v1/audit?since=&type=&limit=: the audit trail, newest first (admin and operator). */
import { Router } from 'express';
import { z } from 'zod';
import { AUDIT_EVENT_TYPES, type AuditLog } from '../../audit/audit-log';

export const AuditQuerySchema = z.strictObject({
  since: z.iso.datetime({ offset: true, message: 'since: an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z' }).optional(),
  type: z.enum(AUDIT_EVENT_TYPES).optional(),
  limit: z.coerce.number().int().min(1).max(10000).default(100),
});

export function auditRoutes(audit: Pick<AuditLog, 'query'>): Router {
  const r = Router();
  r.get('/api/v1/audit', (req, res) => {
    const q = AuditQuerySchema.parse(req.query);
    res.json(audit.query(q));
  });
  return r;
}
