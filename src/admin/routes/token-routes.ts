/**
 * Admin API tokens: POST /api/v1/tokens {"name","role"[,"source"]} answers the token once (only its hash is
 * stored); GET /api/v1/tokens lists names, roles, created and last used (never a token);
 * DELETE /api/v1/tokens/{name} revokes one at once. An ingest token names the configured source (AE title)
 * its STOW-RS instances are recorded as coming from.
 */
import { Router } from 'express';
import { z } from 'zod';
import { ROLES } from '../../core/roles';
import { AeTitleSchema } from '../../config/schema';
import type { SettingsRepository } from '../../store/settings-repository';
import type { TokenRepository } from '../../store/token-repository';
import { badRequest, conflict, notFound } from '../http-error';

/** The name the configured / generated admin token acts under; no named token may take it. */
export const ADMIN_TOKEN_NAME = 'admin';

/** 1-64 letters, digits, _ . - and not the reserved admin name (a regex, so the OpenAPI schema says the same). */
export const TokenNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^(?!admin$)[A-Za-z0-9_.-]+$/, `token name: 1-64 letters, digits, _ . - (not "${ADMIN_TOKEN_NAME}", the configured admin token's name)`);

/** An ingest token names its source; the other roles have none (one schema, so the document says so too). */
export const TokenCreateSchema = z.discriminatedUnion('role', [
  z.strictObject({
    name: TokenNameSchema,
    role: z.literal('ingest'),
    /** The configured source AE title its STOW-RS instances are recorded as calling AE. */
    source: AeTitleSchema.meta({ description: 'the configured source (AE title) the instances are attributed to' }),
  }),
  z.strictObject({
    name: TokenNameSchema,
    role: z.enum(ROLES.filter((r) => r !== 'ingest') as ['admin', 'operator', 'metrics']),
  }),
]);

export function tokenRoutes(tokens: TokenRepository, settings: SettingsRepository): Router {
  const r = Router();
  r.get('/api/v1/tokens', (_req, res) => {
    res.json(tokens.list());
  });
  r.post('/api/v1/tokens', (req, res) => {
    const v = TokenCreateSchema.parse(req.body);
    const source = v.role === 'ingest' ? v.source : undefined;
    if (source !== undefined && !settings.sources.get(source)) throw badRequest(`source ${source} is not a configured source; add it under /api/v1/sources first`);
    if (tokens.get(v.name)) throw conflict(`token ${v.name} exists; delete it first to issue a new one`);
    const { record, token } = tokens.create({ name: v.name, role: v.role, ...(source ? { sourceAeTitle: source } : {}) });
    res.status(201).json({ ...record, token });
  });
  r.delete('/api/v1/tokens/:name', (req, res) => {
    if (!tokens.delete(req.params.name)) throw notFound(`no token ${req.params.name}`);
    res.status(204).end();
  });
  return r;
}
