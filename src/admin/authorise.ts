/**
 * Authentication and authorisation of every HTTP request in one place: the bearer token names a principal
 * (the configured admin token, or a named token from the token store), and the route table
 * (route-table.ts) says which roles may call the route. 401 without a valid token, 403 (with a message
 * naming the roles that may) for the wrong role. Authentication failures, refusals, configuration
 * changes and token use go to the audit trail.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Principal } from '../core/roles';
import type { AuditRecorder } from '../audit/audit-log';
import { HttpError } from './http-error';
import { ACCESS_ROLES, ROUTES, routeMatcher, type RouteMatch } from './route-table';
import { ADMIN_TOKEN_NAME } from './routes/token-routes';

export interface AuthoriseOptions {
  /** NPC_ADMIN_TOKEN / http.adminToken / the generated <dataDir>/admin-token: always role admin. */
  adminToken: string;
  /** Named tokens (src/store/token-repository.ts). */
  authenticate?: (token: string) => Principal | undefined;
  /** A reason to refuse an authenticated principal (e.g. an ingest token whose source was removed). */
  refuse?: (p: Principal) => string | undefined;
  audit?: AuditRecorder;
  /** Reads (GET) are audited as token use at most this often per token (ms); changes always are. */
  readAuditIntervalMs?: number;
}

/** The principal of an authorised request (set by authorise()). */
export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

/** Path parameters that are patient identity: never written to the audit trail. */
const PATIENT_PARAMS = new Set(['patientId']);

export function authorise(opts: AuthoriseOptions): RequestHandler {
  const adminHash = createHash('sha256').update(opts.adminToken).digest();
  const match = routeMatcher(ROUTES);
  const lastReadAudit = new Map<string, number>();
  const readInterval = opts.readAuditIntervalMs ?? 10 * 60_000;

  return (req, res, next) => {
    const m = match(req.method, req.path);
    if (m?.route.access === 'public') return next();
    const where = { method: req.method, route: m?.route.path ?? '(unknown route)', remoteAddress: req.socket.remoteAddress };
    const header = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    if (!bearer) {
      opts.audit?.record('auth-failure', { ...where, reason: header ? 'not a bearer token' : 'no token' });
      return next(new HttpError(401, 'missing bearer token (Authorization: Bearer <token>)'));
    }
    const given = createHash('sha256').update(bearer).digest();
    const principal: Principal | undefined = timingSafeEqual(given, adminHash) ? { name: ADMIN_TOKEN_NAME, role: 'admin' } : opts.authenticate?.(bearer);
    if (!principal) {
      opts.audit?.record('auth-failure', { ...where, reason: 'unknown or revoked token' });
      return next(new HttpError(401, 'wrong or revoked bearer token'));
    }
    const actor = { name: principal.name, role: principal.role };
    // A route not in the table needs admin: nothing becomes reachable by forgetting to list it.
    const allowed = m ? ACCESS_ROLES[m.route.access as Exclude<typeof m.route.access, 'public'>] : ['admin'];
    if (!allowed.includes(principal.role)) {
      opts.audit?.record('access-denied', { ...where, actor, needs: allowed });
      const what = m?.route.access === 'configure' ? 'configuration changes need the admin role' : `${req.method} ${where.route} needs role ${allowed.join(' or ')}`;
      return next(new HttpError(403, `token ${principal.name} has role ${principal.role}; ${what}`));
    }
    const refused = opts.refuse?.(principal);
    if (refused) {
      opts.audit?.record('access-denied', { ...where, actor, reason: refused });
      return next(new HttpError(403, refused));
    }
    res.locals.principal = principal;
    if (opts.audit) auditOnFinish(opts.audit, req, res, m, actor, lastReadAudit, readInterval);
    next();
  };
}

function auditOnFinish(
  audit: AuditRecorder,
  req: Request,
  res: Response,
  m: RouteMatch | undefined,
  actor: { name: string; role: string },
  lastReadAudit: Map<string, number>,
  readInterval: number,
): void {
  const method = req.method;
  const isRead = method === 'GET' || method === 'HEAD';
  if (isRead) {
    const last = lastReadAudit.get(actor.name) ?? 0;
    if (Date.now() - last < readInterval) return;
    lastReadAudit.set(actor.name, Date.now());
  }
  res.once('finish', () => {
    const params = Object.fromEntries(Object.entries(m?.params ?? {}).filter(([k]) => !PATIENT_PARAMS.has(k)));
    const fields = { actor, method, route: m?.route.path ?? '(unknown route)', params, status: res.statusCode, remoteAddress: req.socket.remoteAddress };
    audit.record('token-use', fields);
    if (m?.route.access === 'configure' && res.statusCode < 400) audit.record('config-change', { ...fields, tag: m.route.tag, ...subjectOf(m, req.body) });
  });
}

/** What a configuration change was about: the path key, or the body's name / AE title (never a patient). */
function subjectOf(m: RouteMatch, body: unknown): Record<string, unknown> {
  if (m.route.tag === 'clinical') return {};
  const b = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const subject = m.params.name ?? m.params.aeTitle ?? (typeof b.name === 'string' ? b.name : undefined) ?? (typeof b.aeTitle === 'string' ? b.aeTitle : undefined);
  return {
    ...(subject !== undefined ? { subject: subject.slice(0, 64) } : {}),
    ...(m.route.tag === 'tokens' && typeof b.role === 'string' ? { tokenRole: b.role.slice(0, 16) } : {}),
  };
}
