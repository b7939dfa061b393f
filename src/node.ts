/**
 * Composition root: builds every stage of the node from a validated config and starts the listeners.
 * `startNode` is what main.ts and the integration tests call.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router } from 'express';
import type { Config } from './config/schema';
import { createLogger, type Logger } from './logging/logger';
import { openDatabase, type Db } from './store/database';
import { SettingsRepository } from './store/settings-repository';
import { createApp } from './admin/app';
import { resolveAdminToken } from './admin/admin-token';
import { settingsRoutes } from './admin/routes/settings-routes';
import { destinationRoutes } from './admin/routes/destination-routes';
import { Outbox } from './deliver/outbox';

export interface NodeHandle {
  config: Config;
  db: Db;
  settings: SettingsRepository;
  logger: Logger;
  adminToken: string;
  httpPort: number;
  dimsePort: number;
  /** Delivery of results to destinations (enqueue, retry, list). */
  outbox: Outbox;
  /** Stops accepting work, finishes or safely abandons in-flight work, closes the store. */
  stop(): Promise<void>;
}

export async function startNode(config: Config, opts: { logger?: Logger } = {}): Promise<NodeHandle> {
  const logger = opts.logger ?? createLogger(config.logging.level);
  const db = openDatabase(config.dataDir);
  const settings = new SettingsRepository(db);
  settings.seed(config);
  const { token, file: tokenFile } = resolveAdminToken(config.http.adminToken, config.dataDir);
  if (tokenFile) logger.info('admin API token generated', { file: tokenFile });

  const health = Router();
  health.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  health.get('/readyz', (_req, res) => {
    res.json({ status: 'ready' });
  });

  const outbox = new Outbox({ db, settings, dataDir: config.dataDir, delivery: config.delivery, logger });
  const destinations = destinationRoutes(settings, { echoTimeoutSeconds: Math.min(30, config.delivery.responseTimeoutSeconds) });

  const app = createApp({ token, logger, routes: { publicRouters: [health], protectedRouters: [settingsRoutes(settings), destinations] } });
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => resolve());
  });
  const httpPort = (server.address() as AddressInfo).port;
  logger.info('http listening', { host: config.http.host, port: httpPort });
  outbox.start();

  let stopped = false;
  return {
    config,
    db,
    settings,
    logger,
    adminToken: token,
    httpPort,
    dimsePort: 0,
    outbox,
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      // Sends in flight get up to 10 s; what is left is re-queued at the next start.
      await outbox.stop(10_000);
      db.close();
    },
  };
}
