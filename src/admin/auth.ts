/** Bearer-token check for the admin API and DICOMweb endpoints (constant-time comparison). */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './http-error';

export function requireBearerToken(token: string): RequestHandler {
  const expected = createHash('sha256').update(token).digest();
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const given = m ? createHash('sha256').update(m[1]!.trim()).digest() : undefined;
    if (!given || !timingSafeEqual(given, expected)) {
      next(new HttpError(401, 'missing or wrong bearer token'));
      return;
    }
    next();
  };
}
