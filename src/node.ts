/**
 * Composition root: builds every stage of the node from a validated config and starts the listeners.
 * `startNode` is what main.ts and the integration tests call.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router } from 'express';
import { CompletionSchema, type Config } from './config/schema';
import { createLogger, type Logger } from './logging/logger';
import { openDatabase, type Db } from './store/database';
import { SettingsRepository } from './store/settings-repository';
import { createApp } from './admin/app';
import { conflict, notFound } from './admin/http-error';
import { resolveAdminToken } from './admin/admin-token';
import { settingsRoutes } from './admin/routes/settings-routes';
import { webRoutes } from './admin/routes/web-routes';
import { JobStore } from './jobs/job-store';
import { StudyAssembler } from './assemble/study-assembler';
import { createFallbackRoleResolver } from './assemble/fallback-role-resolver';
import { studyRoutes } from './admin/routes/study-routes';
import { jobRoutes, type RetryHandlers } from './admin/routes/job-routes';
import { ModelRegistry } from './infer/model-registry';
import { ClinicalRepository } from './store/clinical-repository';
import { clinicalRoutes } from './admin/routes/clinical-routes';
import { modelRoutes } from './admin/routes/model-routes';
import { destinationRoutes } from './admin/routes/destination-routes';
import { Outbox } from './deliver/outbox';

export interface NodeHandle {
  config: Config;
  db: Db;
  settings: SettingsRepository;
  jobs: JobStore;
  /** Study completion; connect the instance store with connectAssembler(store, assembler). */
  assembler: StudyAssembler;
  /** Per-kind retry owners for POST /api/v1/jobs/{id}/retry (e.g. delivery); read at request time. */
  retryHandlers: RetryHandlers;
  /** Loaded, validated models with warm sessions. */
  models: ModelRegistry;
  clinical: ClinicalRepository;
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
  // Models first: a bad model stops startup (ModelRegistryError names each problem) before anything listens.
  const models = await ModelRegistry.load(config.models, logger);
  const db = openDatabase(config.dataDir);
  const clinical = new ClinicalRepository(db);
  const settings = new SettingsRepository(db);
  settings.seed(config);
  const { token, file: tokenFile } = resolveAdminToken(config.http.adminToken, config.dataDir);
  if (tokenFile) logger.info('admin API token generated', { file: tokenFile });

  const jobs = new JobStore(db);
  const requeued = jobs.requeueInterrupted();
  if (requeued.length) logger.warn('jobs interrupted by a restart were re-queued', { jobIds: requeued });
  const defaultCompletion = CompletionSchema.parse({});
  const assembler = new StudyAssembler({
    db,
    jobs,
    // FALLBACK until src/select's rule-based selector is wired in (same SeriesRoleResolver shape).
    resolveRoles: createFallbackRoleResolver(),
    completionFor: (ae) => settings.aeTitles.get(ae)?.completion ?? defaultCompletion,
    logger,
  });
  assembler.start();
  /** Per-kind retry owners for POST /api/v1/jobs/{id}/retry (delivery registers its own). */
  const retryHandlers: RetryHandlers = {};

  const health = Router();
  health.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  health.get('/readyz', (_req, res) => {
    // Ready means: the node can receive and store. With no models it still is, and says analyses cannot run.
    res.json({ status: 'ready', models: models.size, ...(models.size === 0 ? { analyses: 'unavailable: no models loaded' } : {}) });
  });

  const outbox = new Outbox({ db, settings, dataDir: config.dataDir, delivery: config.delivery, logger });
  retryHandlers.delivery = (id) => {
    const r = outbox.retry(id);
    if (!r.ok) throw r.reason === 'not-found' ? notFound(r.message) : conflict(r.message);
  };
  const destinations = destinationRoutes(settings, { echoTimeoutSeconds: Math.min(30, config.delivery.responseTimeoutSeconds) });

  const app = createApp({
    token,
    logger,
    routes: {
      publicRouters: [health, webRoutes()],
      protectedRouters: [settingsRoutes(settings), studyRoutes({ studies: assembler.studies, jobs, assembler }), jobRoutes({ jobs, retryHandlers }), modelRoutes(models), clinicalRoutes(clinical), destinations],
    },
  });
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
    jobs,
    assembler,
    retryHandlers,
    models,
    clinical,
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
      assembler.stop();
      await models.close();
      db.close();
    },
  };
}
