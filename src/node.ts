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
import { InstanceStore } from './store/instance-store';
import { DimseServer } from './receive/dimse/dimse-server';
import { stowRoutes } from './receive/stow/stow-router';

export interface NodeHandle {
  config: Config;
  db: Db;
  settings: SettingsRepository;
  logger: Logger;
  adminToken: string;
  httpPort: number;
  dimsePort: number;
  /** The durable instance store; emits 'stored' (InstanceStoredEvent). */
  instances: InstanceStore;
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

  const instances = new InstanceStore({
    db,
    dataDir: config.dataDir,
    logger: logger.child({ component: 'store' }),
    fsync: config.storage.fsync,
    conflictPolicy: config.storage.conflictPolicy,
    freeSpaceWatermarkMb: config.storage.freeSpaceWatermarkMb,
    acceptedTransferSyntaxes: config.dimse.transferSyntaxes,
  });
  await instances.startupRecovery({ calledAeTitle: settings.aeTitles.list()[0]?.aeTitle ?? config.localAeTitles[0]!.aeTitle });

  const health = Router();
  health.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  health.get('/readyz', (_req, res) => {
    res.json({ status: 'ready' });
  });

  const app = createApp({ token, logger, routes: { publicRouters: [health], protectedRouters: [settingsRoutes(settings), stowRoutes({ store: instances, settings, maxBytes: config.http.maxStowBytes, logger })] } });
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => resolve());
  });
  const httpPort = (server.address() as AddressInfo).port;
  logger.info('http listening', { host: config.http.host, port: httpPort });

  const dimse = new DimseServer({ config: config.dimse, store: instances, settings, logger });
  let dimsePort: number;
  try {
    dimsePort = await dimse.listen();
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await instances.close();
    db.close();
    throw err;
  }

  let stopped = false;
  return {
    config,
    db,
    settings,
    logger,
    adminToken: token,
    httpPort,
    dimsePort,
    instances,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Stop accepting new associations and requests first; in-flight stores finish or are abandoned
      // (an abandoned one was never acknowledged and leaves no partial file).
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await dimse.stop();
      server.closeIdleConnections();
      await Promise.race([httpClosed, new Promise((r) => setTimeout(r, 10000).unref())]);
      server.closeAllConnections();
      await instances.close();
      db.close();
    },
  };
}
