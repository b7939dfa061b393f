/**
 * The HTTP side of the node: health, admin API, DICOMweb ingress, web page. Routers are supplied by the
 * composition root; this module owns only the common parts (auth, JSON parsing, the one error mapper).
 */
import express, { type ErrorRequestHandler, type Express, type Router } from 'express';
import { randomUUID } from 'node:crypto';
import { ZodError } from 'zod';
import type { Logger } from '../logging/logger';
import { authorise, type AuthoriseOptions } from './authorise';
import { HttpError } from './http-error';

export interface AppRoutes {
  /** Mounted without auth, at the root (healthz, readyz, the web page's static files). */
  publicRouters?: Router[];
  /** Mounted behind the bearer token and the route table's roles, at the root (e.g. /api/v1/..., /dicomweb/..., /metrics). */
  protectedRouters: Router[];
}

export function createApp(opts: { auth: AuthoriseOptions; logger: Logger; routes: AppRoutes }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const r of opts.routes.publicRouters ?? []) app.use(r);
  app.use(authorise(opts.auth));
  app.use(express.json({ limit: '1mb', type: ['application/json', 'application/*+json'] }));
  for (const r of opts.routes.protectedRouters) app.use(r);
  app.use((req, _res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`)));
  app.use(errorMapper(opts.logger));
  return app;
}

/** Maps every error to a response: 4xx with a message, 500 with a correlation id (no stack, no patient data). */
export function errorMapper(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.message, ...(err.details !== undefined ? { details: err.details } : {}) });
      return;
    }
    if (err instanceof ZodError) {
      res.status(400).json({
        error: 'invalid request body',
        details: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'request body is not valid JSON' });
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: 'request body too large' });
      return;
    }
    const correlationId = randomUUID();
    logger.error('request failed', { correlationId, method: req.method, path: req.path, error: String(e.message ?? err) });
    res.status(500).json({ error: 'internal error', correlationId });
  };
}
