/**
 * Composition root: builds every stage of the node from a validated config and starts the listeners.
 * `startNode` is what main.ts and the integration tests call.
 *
 * The study's path: receive (DIMSE, STOW-RS) -> store (durable spool, index) -> assemble (completion,
 * one analysis job) -> pipeline (select, prepare, infer, analyses, encode) -> deliver (outbox).
 */
import http from 'node:http';
import https from 'node:https';
import { bcp195Options, readPem } from './dicom/tls-profile';
import { RetentionService, type PurgedEvent, type RetentionClock } from './admin/retention';
import { maintenanceRoutes } from './admin/routes/maintenance-routes';
import type { AddressInfo } from 'node:net';
import { Router, type Express } from 'express';
import { CompletionSchema, type Config } from './config/schema';
import { createLogger, type Logger } from './logging/logger';
import { routeDimseLibraryLog } from './logging/dimse-library-log';
import { ensureDataDir, openDatabase, type Db } from './store/database';
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
import { studyResultsRoutes } from './admin/routes/study-results-routes';
import { webSettingsRoutes } from './admin/routes/web-settings-routes';
import { WebSettingsRepository } from './store/web-settings';
import { jobRoutes, type RetryHandlers } from './admin/routes/job-routes';
import { clinicalRoutes } from './admin/routes/clinical-routes';
import { quarantineRoutes } from './admin/routes/quarantine-routes';
import { modelRoutes } from './admin/routes/model-routes';
import { destinationRoutes } from './admin/routes/destination-routes';
import { createMetrics } from './admin/metrics';
import { principalOf } from './admin/authorise';
import { tokenRoutes } from './admin/routes/token-routes';
import { auditRoutes } from './admin/routes/audit-routes';
import { openApiRoutes } from './admin/openapi';
import { TokenRepository } from './store/token-repository';
import { AuditLog } from './audit/audit-log';
import { auditAssociation, connectAudit } from './audit/audit-events';
import type { Principal } from './core/roles';
import { SOFTWARE_VERSION } from './pipeline/device-identity';
import { WorkerPool } from './prepare';
import { AnalysisWorker } from './pipeline/analysis-worker';
import { StorePriorStudyProvider } from './pipeline/prior-study-from-store';
import { errorMessage } from './util/error-message';
import { PriorRetrieval, type CurrentStudy, type PriorSource } from './priors';
import type { Destination } from './core/destination-schemas';
import type { JobCreatedEvent } from './assemble/study-assembler';

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
  /** Fetches a completed study's prior (the patient's other MR study) from the AE title's priors sources. */
  priors: PriorRetrieval;
  logger: Logger;
  /** The audit trail; other parts record through audit.record(type, fields), e.g. 'retention-purge'. */
  audit: AuditLog;
  /** Named admin API tokens (the configured admin token is not among them). */
  tokens: TokenRepository;
  adminToken: string;
  /** The express app (routes, for tests that compare them with the route table). */
  httpApp: Express;
  httpPort: number;
  /** The plain DIMSE listener's port (0 when dimse.tls is set and dimse.port is 0). */
  dimsePort: number;
  /** The DICOM TLS listener's port (0 without dimse.tls). */
  dimseTlsPort: number;
  /** Retention and the free-space check; emits 'purged' (PurgedEvent) for the audit trail. */
  retention: RetentionService;
  /** Stops accepting work, finishes or safely abandons in-flight work, closes the store. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** The clock of retention (tests run it with a fake one). */
  retentionClock?: RetentionClock;
}

export async function startNode(config: Config, opts: StartOptions = {}): Promise<NodeHandle> {
  const logger = opts.logger ?? createLogger(config.logging.level);
  routeDimseLibraryLog(logger.child({ component: 'dimse' }));
  // Models first: a bad model stops startup (ModelRegistryError names each problem) before anything listens.
  const models = await ModelRegistry.load(config.models, logger);
  // Whatever startup opened is closed again, newest first, when a later step fails.
  const opened = new StartupResources(logger);
  opened.add('models', () => models.close());
  try {
    return await buildNode(config, logger, models, opened, opts);
  } catch (err) {
    await opened.closeAll();
    throw err;
  }
}

/** Everything after the models, each resource registered in `opened` as soon as it exists. */
async function buildNode(config: Config, logger: Logger, models: ModelRegistry, opened: StartupResources, opts: StartOptions): Promise<NodeHandle> {
  const dir = ensureDataDir(config.dataDir);
  if (!dir.tightened && dir.mode & 0o007) {
    logger.warn('the data directory is not ours to restrict and others may read it; restrict it (0700) or its parent', { dataDir: config.dataDir, mode: dir.mode.toString(8) });
  }
  const db = openDatabase(config.dataDir);
  opened.add('database', () => db.close());
  const clinical = new ClinicalRepository(db);
  const settings = new SettingsRepository(db);
  settings.seed(config);
  const webSettings = new WebSettingsRepository(db);
  webSettings.seed(config.web);
  const { token, file: tokenFile } = resolveAdminToken(config.http.adminToken, config.dataDir);
  if (tokenFile) logger.info('admin API token generated', { file: tokenFile });
  const tokens = new TokenRepository(db);
  const audit = new AuditLog({
    dataDir: config.dataDir,
    retentionDays: config.audit.retentionDays,
    onError: (e) => logger.error('audit trail write failed', { error: e.message }),
  });
  opened.add('audit trail', () => audit.close());

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
  // The priors stage: a completed study's other MR study from the PACS (docs/prior-retrieval.md).
  const priors = new PriorRetrieval({
    store: instances,
    resolveSource: (name) => priorSourceOf(settings.destinations.get(name)),
    limits: () => ({
      responseTimeoutSeconds: config.delivery.responseTimeoutSeconds,
      maxAttempts: config.delivery.maxAttempts,
      initialBackoffSeconds: config.delivery.initialBackoffSeconds,
      maxBackoffSeconds: config.delivery.maxBackoffSeconds,
    }),
    logger: logger.child({ component: 'priors' }),
  });
  opened.add('prior retrieval', () => priors.stop());
  const assembler = new StudyAssembler({
    db,
    recordDb: instances.indexConnection,
    jobs,
    resolveRoles: ruleBasedRoleResolver(config.selection.rules),
    completionFor: (ae) => settings.aeTitles.get(ae)?.completion ?? defaultCompletion,
    isPriorStudy: (uid) => priors.isPriorStudy(uid),
    analysePriors: (ae) => settings.aeTitles.get(ae)?.priors.analyse === true,
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
  /** Accession numbers of studies seen arriving (for audit entries), else read from a stored instance. */
  const accessions = new Map<string, string | undefined>();
  const accessionOf = (uid: string): string | undefined => {
    if (accessions.has(uid)) return accessions.get(uid);
    const a = instances.listStudyInstances(uid)[0]?.header.AccessionNumber;
    return typeof a === 'string' && a !== '' ? a : undefined;
  };
  assembler.on('study-received', (ev: { studyInstanceUid: string; accessionNumber?: string }) => {
    if (accessions.size > 10_000) accessions.clear();
    accessions.set(ev.studyInstanceUid, ev.accessionNumber);
  });
  const disconnectAudit = connectAudit(audit, { assembler, jobs, outbox, accessionOf }, (e) =>
    logger.error('audit observer failed', { error: e instanceof Error ? e.message : String(e) }),
  );
  opened.add('audit observers', () => disconnectAudit());
  const retryHandlers: RetryHandlers = {
    delivery: (id) => {
      const r = outbox.retry(id);
      if (!r.ok) throw r.reason === 'not-found' ? notFound(r.message) : conflict(r.message);
    },
  };

  // Decoding and preparation run in worker threads, so the listeners stay responsive during an analysis.
  const pool = new WorkerPool();
  opened.add('worker pool', () => pool.close());
  const priorStudies = new StorePriorStudyProvider({ studies: assembler.studies, store: instances, rules: config.selection.rules, pool, priors });
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
  // As soon as a study completes, its prior is fetched in parallel with its analysis (which waits for it).
  const priorDeps = { settings, instances, priors, logger };
  assembler.on('job-created', (e: JobCreatedEvent) => startPriorRetrieval(e.study, priorDeps));
  // Analyses queued before a restart fetch their priors again (the retrieval state lives in memory).
  for (const j of jobs.list({ kind: 'analysis', state: 'queued', limit: 1000 })) {
    if (j.calledAeTitle) startPriorRetrieval({ studyInstanceUid: j.studyInstanceUid, calledAeTitle: j.calledAeTitle }, priorDeps);
  }
  assembler.on('job-created', () => analysisWorker.kick());
  /** Re-analysis on demand after new clinical covariates: every complete study of the patient. */
  const reanalysePatient = (patientId: string) => {
    // A study whose received instances retention purged has nothing left to analyse (a resend reopens it).
    const rows = assembler.studies.keysOfPatient(patientId).filter((k) => !assembler.studies.get(k)?.purgedAt);
    const jobIds = rows.flatMap((k) => assembler.requestReanalysis(k, 'clinical covariates changed')?.id ?? []);
    return { jobIds, studies: rows.length };
  };

  const retention = new RetentionService({
    config: config.retention,
    freeSpaceWatermarkMb: config.storage.freeSpaceWatermarkMb,
    dataDir: config.dataDir,
    studies: assembler.studies,
    jobs,
    instances,
    logger,
    ...(opts.retentionClock ? { clock: opts.retentionClock } : {}),
  });
  opened.add('retention', () => retention.stop());
  const auditPurge = (e: PurgedEvent) => audit.record('retention-purge', { ...e, actor: { name: 'retention', role: 'system' } });
  retention.on('purged', auditPurge);
  opened.add('retention audit', () => void retention.off('purged', auditPurge));

  let openAssociations = () => 0;
  const metrics = createMetrics({ studies: assembler.studies, instances, jobs, models, priors, openAssociations: () => openAssociations(), retention });

  const health = Router();
  health.get('/healthz', (_req, res) => {
    // The free-space state of the last check (retention schedule), so the page warns before the watermark.
    const fs = retention.lastFreeSpace;
    res.json({ status: 'ok', ...(fs ? { storage: { state: fs.state, freeBytes: fs.freeBytes, warnBelowBytes: fs.warnBelowBytes, watermarkBytes: fs.watermarkBytes, checkedAt: fs.checkedAt } } : {}) });
  });
  health.get('/readyz', (_req, res) => {
    // Ready means: the node can receive and store. With no models it still is, and says analyses cannot run.
    res.json({ status: 'ready', models: models.size, ...(models.size === 0 ? { analyses: 'unavailable: no models loaded' } : {}) });
  });

  /** An ingest token works only while the source it names is configured. */
  const refusePrincipal = (p: Principal): string | undefined =>
    p.role === 'ingest' && (!p.sourceAeTitle || !settings.sources.get(p.sourceAeTitle))
      ? `token ${p.name} sends as source ${p.sourceAeTitle ?? '(none)'}, which is no longer a configured source`
      : undefined;
  const app = createApp({
    auth: { adminToken: token, authenticate: (t) => tokens.authenticate(t), refuse: refusePrincipal, audit },
    logger,
    routes: {
      publicRouters: [health, webRoutes()],
      protectedRouters: [
        metrics.router,
        openApiRoutes(SOFTWARE_VERSION),
        tokenRoutes(tokens, settings),
        auditRoutes(audit),
        settingsRoutes(settings),
        destinationRoutes(settings, { echoTimeoutSeconds: Math.min(30, config.delivery.responseTimeoutSeconds) }),
        studyRoutes({ studies: assembler.studies, jobs, assembler, rules: config.selection.rules, showPatientNames: () => webSettings.get().showPatientNames }),
        studyResultsRoutes({
          dataDir: config.dataDir,
          studies: assembler.studies,
          jobs,
          deliveries: (uid) => outbox.list({ studyInstanceUid: uid }),
          sourceHeader: (sop) => instances.getInstance(sop)?.header,
        }),
        webSettingsRoutes(webSettings),
        jobRoutes({ jobs, retryHandlers }),
        modelRoutes(models),
        maintenanceRoutes(retention),
        clinicalRoutes(clinical, { reanalyse: reanalysePatient }),
        quarantineRoutes(instances),
        stowRoutes({
          store: instances,
          settings,
          maxBytes: config.http.maxStowBytes,
          maxPartBytes: config.http.maxStowPartBytes,
          requestTimeoutMs: config.http.stowRequestTimeoutSeconds * 1000,
          logger,
          // An ingest token's instances are recorded as sent by the source it names.
          callingAeTitleOf: (_req, res) => principalOf(res)?.sourceAeTitle,
        }),
      ],
    },
  });
  // HTTPS (TLS 1.2+, BCP 195 suites) when http.tls is set; the PEM files are read now, so a bad one stops startup.
  const server = config.http.tls
    ? https.createServer({ ...bcp195Options(), cert: readPem(config.http.tls.certFile, 'http.tls.certFile'), key: readPem(config.http.tls.keyFile, 'http.tls.keyFile') }, app)
    : http.createServer(app);
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
  logger.info(config.http.tls ? 'https listening' : 'http listening', { host: config.http.host, port: httpPort });

  const dimse = new DimseServer({ config: config.dimse, store: instances, settings, logger, onAssociationDecided: auditAssociation(audit) });
  opened.add('DIMSE listener', () => dimse.stop(0));
  const dimsePort = await listenOrExplain('DIMSE', config.dimse, () => dimse.listen());
  openAssociations = () => dimse.openAssociations();
  const dimseTlsPort = dimse.tlsPort;
  opened.add('outbox', () => outbox.stop(0));
  outbox.start();
  opened.add('analysis worker', () => analysisWorker.stop(0));
  analysisWorker.start();
  retention.start();
  // The first free-space check at start, so /metrics and the page have a value before the first schedule.
  retention.checkFreeSpace().catch((e) => logger.warn('free-space check failed', { error: e instanceof Error ? e.message : String(e) }));

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
    priors,
    logger,
    audit,
    tokens,
    adminToken: token,
    httpApp: app,
    httpPort,
    dimsePort,
    dimseTlsPort,
    retention,
    async stop() {
      if (stopped) return;
      stopped = true;
      await retention.stop();
      // Stop accepting new associations and requests first; in-flight stores finish or are abandoned
      // (an abandoned one was never acknowledged and leaves no partial file).
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await dimse.stop();
      server.closeIdleConnections();
      await Promise.race([httpClosed, new Promise((r) => setTimeout(r, 10000).unref())]);
      server.closeAllConnections();
      priors.stop();
      // An analysis in flight gets up to 15 s, sends up to 10 s; what is left is re-queued at the next start.
      await analysisWorker.stop(15_000);
      await outbox.stop(10_000);
      await pool.close();
      disconnectAssembler();
      assembler.stop();
      await instances.close();
      await models.close();
      disconnectAudit();
      await audit.close();
      db.close();
    },
  };
}

/** A destination as a priors source (DIMSE: C-FIND + C-MOVE/C-GET; DICOMweb: QIDO-RS + WADO-RS). */
function priorSourceOf(d: Destination | undefined): PriorSource | undefined {
  if (!d || !d.enabled) return undefined;
  if (d.type === 'dimse') {
    return { type: 'dimse', name: d.name, aeTitle: d.aeTitle, host: d.host, port: d.port, retrieve: d.retrieve ?? 'c-move', ...(d.callingAeTitle ? { callingAeTitle: d.callingAeTitle } : {}), ...(d.tls ? { tls: d.tls } : {}) };
  }
  return { type: 'dicomweb', name: d.name, url: d.url, ...(d.authorization ? { authorization: d.authorization } : {}), ...(d.caFile ? { caFile: d.caFile } : {}) };
}

/**
 * Starts the retrieval of a completed study's prior when its local AE title names priors sources, from the
 * study's first instance header. The analysis runs meanwhile; its progression analysis waits for the outcome.
 */
function startPriorRetrieval(
  study: { studyInstanceUid: string; calledAeTitle: string },
  deps: { settings: SettingsRepository; instances: InstanceStore; priors: PriorRetrieval; logger: Logger },
): void {
  try {
    const ae = study.calledAeTitle;
    const cfg = deps.settings.aeTitles.get(ae)?.priors;
    if (!cfg?.from.length) return;
    const all = deps.instances.listStudyInstances(study.studyInstanceUid);
    const h = (all.find((i) => i.calledAeTitle === ae) ?? all[0])?.header;
    if (!h) return;
    const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
    const patientId = str(h.PatientID);
    if (!patientId) return;
    const current: CurrentStudy = {
      StudyInstanceUID: study.studyInstanceUid,
      PatientID: patientId,
      calledAeTitle: ae,
      ...(str(h.IssuerOfPatientID) ? { IssuerOfPatientID: str(h.IssuerOfPatientID)! } : {}),
      ...(str(h.PatientBirthDate) ? { PatientBirthDate: str(h.PatientBirthDate)! } : {}),
      ...(str(h.PatientSex) ? { PatientSex: str(h.PatientSex)! } : {}),
      ...(str(h.StudyDate) ? { StudyDate: str(h.StudyDate)! } : {}),
    };
    void deps.priors.start(current, { from: cfg.from, lookbackDays: cfg.lookbackDays }, { deadlineMs: cfg.deadlineSeconds * 1000 });
  } catch (err) {
    deps.logger.error('prior retrieval could not be started', { studyInstanceUid: study.studyInstanceUid, error: err instanceof Error ? err.message : String(err) });
  }
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
        this.logger.warn('startup failed; closing a resource failed too', { resource: name, error: errorMessage(e) });
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
    const why = code === 'EADDRINUSE' ? 'the port is already in use' : errorMessage(e);
    throw new Error(`${what} listener could not start on ${at.host}:${at.port}: ${why}`, { cause: e });
  }
}
