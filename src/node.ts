/**
 * Composition root: builds every stage of the node from a validated config and starts the listeners.
 * `startNode` is what main.ts and the integration tests call.
 *
 * The study's path: receive (DIMSE, STOW-RS) -> store (durable spool, index) -> assemble (completion,
 * one analysis job) -> pipeline (select, prepare, infer, analyses, encode) -> deliver (outbox).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router } from 'express';
import { CompletionSchema, type Config } from './config/schema';
import { createLogger, type Logger } from './logging/logger';
import { routeDimseLibraryLog } from './logging/dimse-library-log';
import { openDatabase, type Db } from './store/database';
import { SettingsRepository } from './store/settings-repository';
import { InstanceStore } from './store/instance-store';
import { ClinicalRepository } from './store/clinical-repository';
import { DimseServer } from './receive/dimse/dimse-server';
import { stowRoutes } from './receive/stow/stow-router';
import { JobStore } from './jobs/job-store';
import { StudyAssembler, connectAssembler } from './assemble/study-assembler';
import { ruleBasedRoleResolver } from './select';
import { ModelRegistry } from './infer/model-registry';
import { Outbox } from './deliver/outbox';
import { createApp } from './admin/app';
import { conflict, notFound } from './admin/http-error';
import { resolveAdminToken } from './admin/admin-token';
import { settingsRoutes } from './admin/routes/settings-routes';
import { webRoutes } from './admin/routes/web-routes';
import { studyRoutes } from './admin/routes/study-routes';
import { jobRoutes, type RetryHandlers } from './admin/routes/job-routes';
import { clinicalRoutes } from './admin/routes/clinical-routes';
import { quarantineRoutes } from './admin/routes/quarantine-routes';
import { modelRoutes } from './admin/routes/model-routes';
import { destinationRoutes } from './admin/routes/destination-routes';
import { createMetrics } from './admin/metrics';
import { WorkerPool } from './prepare';
import { AnalysisWorker } from './pipeline/analysis-worker';
import { StorePriorStudyProvider } from './pipeline/prior-study-from-store';

export interface NodeHandle {
  config: Config;
  db: Db;
  settings: SettingsRepository;
  /** The durable instance store; emits 'stored' (InstanceStoredEvent). */
  instances: InstanceStore;
  jobs: JobStore;
  /** Study completion (fed by the instance store's 'stored' events). */
  assembler: StudyAssembler;
  /** Per-kind retry owners for POST /api/v1/jobs/{id}/retry; read at request time. */
  retryHandlers: RetryHandlers;
  /** Loaded, validated models with warm sessions. */
  models: ModelRegistry;
  clinical: ClinicalRepository;
  /** Delivery of results to destinations (enqueue, retry, list). */
  outbox: Outbox;
  /** Runs analysis jobs: select, prepare, infer, encode, enqueue delivery. */
  analysisWorker: AnalysisWorker;
  logger: Logger;
  adminToken: string;
  httpPort: number;
  dimsePort: number;
  /** Stops accepting work, finishes or safely abandons in-flight work, closes the store. */
  stop(): Promise<void>;
}

export async function startNode(config: Config, opts: { logger?: Logger } = {}): Promise<NodeHandle> {
  const logger = opts.logger ?? createLogger(config.logging.level);
  routeDimseLibraryLog(logger.child({ component: 'dimse' }));
  // Models first: a bad model stops startup (ModelRegistryError names each problem) before anything listens.
  const models = await ModelRegistry.load(config.models, logger);
  // Whatever startup opened is closed again, newest first, when a later step fails.
  const opened = new StartupResources(logger);
  opened.add('models', () => models.close());
  try {
    return await buildNode(config, logger, models, opened);
  } catch (err) {
    await opened.closeAll();
    throw err;
  }
}

/** Everything after the models, each resource registered in `opened` as soon as it exists. */
async function buildNode(config: Config, logger: Logger, models: ModelRegistry, opened: StartupResources): Promise<NodeHandle> {
  const db = openDatabase(config.dataDir);
  opened.add('database', () => db.close());
  const clinical = new ClinicalRepository(db);
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
    patientIdentityMismatch: config.storage.patientIdentityMismatch,
    patientIdentityCorrectors: config.storage.patientIdentityCorrectors,
    freeSpaceWatermarkMb: config.storage.freeSpaceWatermarkMb,
    acceptedTransferSyntaxes: config.dimse.transferSyntaxes,
  });
  opened.add('instance store', () => instances.close());
  await instances.startupRecovery({ calledAeTitle: settings.aeTitles.list()[0]?.aeTitle ?? config.localAeTitles[0]!.aeTitle });

  const jobs = new JobStore(db);
  const requeued = jobs.requeueInterrupted('analysis');
  if (requeued.length) logger.warn('analysis jobs interrupted by a restart were re-queued', { jobIds: requeued });
  const defaultCompletion = CompletionSchema.parse({});
  const assembler = new StudyAssembler({
    db,
    recordDb: instances.indexConnection,
    jobs,
    resolveRoles: ruleBasedRoleResolver(config.selection.rules),
    completionFor: (ae) => settings.aeTitles.get(ae)?.completion ?? defaultCompletion,
    logger: logger.child({ component: 'assemble' }),
  });
  // The assembler listens before the receivers start, so no stored instance goes unseen.
  const disconnectAssembler = connectAssembler(instances, assembler);
  opened.add('assembler', () => {
    disconnectAssembler();
    assembler.stop();
  });
  assembler.start();

  const outbox = new Outbox({ db, settings, dataDir: config.dataDir, delivery: config.delivery, logger: logger.child({ component: 'deliver' }) });
  const retryHandlers: RetryHandlers = {
    delivery: (id) => {
      const r = outbox.retry(id);
      if (!r.ok) throw r.reason === 'not-found' ? notFound(r.message) : conflict(r.message);
    },
  };

  // Decoding and preparation run in worker threads, so the listeners stay responsive during an analysis.
  const pool = new WorkerPool();
  opened.add('worker pool', () => pool.close());
  const priorStudies = new StorePriorStudyProvider({ studies: assembler.studies, store: instances, rules: config.selection.rules, pool });
  const analysisWorker = new AnalysisWorker({
    config,
    jobs,
    store: instances,
    settings,
    clinical,
    models,
    outbox,
    pool,
    priorStudies,
    logger: logger.child({ component: 'analysis' }),
  });
  assembler.on('job-created', () => analysisWorker.kick());
  /** Re-analysis on demand after new clinical covariates: every complete study of the patient. */
  const reanalysePatient = (patientId: string) => {
    const rows = assembler.studies.keysOfPatient(patientId);
    const jobIds = rows.flatMap((k) => assembler.requestReanalysis(k, 'clinical covariates changed')?.id ?? []);
    return { jobIds, studies: rows.length };
  };

  let openAssociations = () => 0;
  const metrics = createMetrics({ db, studies: assembler.studies, instances, jobs, models, openAssociations: () => openAssociations() });

  const health = Router();
  health.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  health.get('/readyz', (_req, res) => {
    // Ready means: the node can receive and store. With no models it still is, and says analyses cannot run.
    res.json({ status: 'ready', models: models.size, ...(models.size === 0 ? { analyses: 'unavailable: no models loaded' } : {}) });
  });

  const app = createApp({
    token,
    logger,
    routes: {
      publicRouters: [health, webRoutes()],
      protectedRouters: [
        metrics.router,
        settingsRoutes(settings),
        destinationRoutes(settings, { echoTimeoutSeconds: Math.min(30, config.delivery.responseTimeoutSeconds) }),
        studyRoutes({ studies: assembler.studies, jobs, assembler }),
        jobRoutes({ jobs, retryHandlers }),
        modelRoutes(models),
        clinicalRoutes(clinical, { reanalyse: reanalysePatient }),
        quarantineRoutes(instances),
        stowRoutes({
          store: instances,
          settings,
          maxBytes: config.http.maxStowBytes,
          maxPartBytes: config.http.maxStowPartBytes,
          requestTimeoutMs: config.http.stowRequestTimeoutSeconds * 1000,
          logger,
        }),
      ],
    },
  });
  const server = http.createServer(app);
  // Node's own whole-request limit (300 s) must not cut a STOW-RS body before its deadline answers 408.
  server.requestTimeout = Math.max(server.requestTimeout, (config.http.stowRequestTimeoutSeconds + 30) * 1000);
  await listenOrExplain('HTTP', config.http, () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.http.port, config.http.host, () => {
        server.off('error', reject);
        resolve();
      });
    }),
  );
  opened.add('HTTP listener', () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const httpPort = (server.address() as AddressInfo).port;
  logger.info('http listening', { host: config.http.host, port: httpPort });

  const dimse = new DimseServer({ config: config.dimse, store: instances, settings, logger });
  opened.add('DIMSE listener', () => dimse.stop(0));
  const dimsePort = await listenOrExplain('DIMSE', config.dimse, () => dimse.listen());
  openAssociations = () => dimse.openAssociations();
  opened.add('outbox', () => outbox.stop(0));
  outbox.start();
  opened.add('analysis worker', () => analysisWorker.stop(0));
  analysisWorker.start();

  let stopped = false;
  return {
    config,
    db,
    settings,
    instances,
    jobs,
    assembler,
    retryHandlers,
    models,
    clinical,
    outbox,
    analysisWorker,
    logger,
    adminToken: token,
    httpPort,
    dimsePort,
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
      // An analysis in flight gets up to 15 s, sends up to 10 s; what is left is re-queued at the next start.
      await analysisWorker.stop(15_000);
      await outbox.stop(10_000);
      await pool.close();
      disconnectAssembler();
      assembler.stop();
      await instances.close();
      await models.close();
      db.close();
    },
  };
}

/** What startup has opened so far, closed again (newest first) when a later startup step fails. */
class StartupResources {
  private readonly closers: { name: string; close: () => unknown }[] = [];

  constructor(private readonly logger: Logger) {}

  add(name: string, close: () => unknown): void {
    this.closers.push({ name, close });
  }

  /** Closes everything; a close that fails is logged and does not stop the others. */
  async closeAll(): Promise<void> {
    for (const { name, close } of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch (e) {
        this.logger.warn('startup failed; closing a resource failed too', { resource: name, error: e instanceof Error ? e.message : String(e) });
      }
    }
  }
}

/** Runs a listen; its failure becomes an error that names the listener, host and port (e.g. EADDRINUSE). */
async function listenOrExplain<T>(what: string, at: { host: string; port: number }, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    const why = code === 'EADDRINUSE' ? 'the port is already in use' : e instanceof Error ? e.message : String(e);
    throw new Error(`${what} listener could not start on ${at.host}:${at.port}: ${why}`, { cause: e });
  }
}
