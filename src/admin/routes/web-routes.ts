/** The admin web page: one static HTML file that calls the admin API with the token the user enters. */
import { Router } from 'express';
import path from 'node:path';

/** src/admin/web/index.html, found from both src/ (ts) and dist/src/ (compiled). */
const WEB_DIR = path.resolve(__dirname, '..', '..', '..', ...(__dirname.includes(`${path.sep}dist${path.sep}`) ? ['..'] : []), 'src', 'admin', 'web');

export function webRoutes(): Router {
  const r = Router();
  r.get(['/', '/index.html'], (_req, res) => {
    res.setHeader('Content-Security-Policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob:");
    res.sendFile(path.join(WEB_DIR, 'index.html'));
  });
  return r;
}
