/**
 * Runs queued analysis jobs one at a time (config.analysis.concurrency in parallel at most): the study's
 * stored instances -> analyseStudy -> DICOM SR + heat maps written durably under <dataDir>/results ->
 * delivery jobs in the outbox. Woken by the assembler's 'job-created' events and by a slow poll; jobs left
 * running by a crash are re-queued at startup (JobStore.requeueInterrupted).
 */
import type { Config, ScSopClassSchema, SrSopClassSchema } from '../config/schema';
import type { z } from 'zod';
import type { Logger } from '../logging/logger';
import type { JobStore, Job } from '../jobs/job-store';
import type { InstanceStore } from '../store/instance-store';
import type { SettingsRepository } from '../store/settings-repository';
import type { ClinicalRepository } from '../store/clinical-repository';
import type { ModelSource } from '../analyses/context';
import type { PriorStudyProvider } from '../analyses/ports';
import { writeResultObjects, type Outbox } from '../deliver/outbox';
import type { WorkerPool } from '../prepare';
import type { ObjectRef } from '../encode/types';
import { ALL_ANALYSES } from '../config/schema';
import { analyseStudy } from './analyse-study';
import { encodeResults, summariseResult } from './encode-results';
import { nodeDeviceIdentity } from './device-identity';
import { mostCommon } from '../util/most-common';
import { resultGeneration } from '../core/generation';
import { errorMessage } from '../util/error-message';
import { preloadFonts } from '../encode/sc/glyph-text';
import { countUnexpectedError } from '../util/unexpected-errors';

type SrClass = z.infer<typeof SrSopClassSchema>;
type ScClass = z.infer<typeof ScSopClassSchema>;

export interface AnalysisJobResult {
  /** Result generation (1-based; resultGeneration of the job's study generation). */
  generation: number;
  results: unknown[];
  selectedSeries: unknown[];
  missingRoles: Record<string, string>;
  outputs: (ObjectRef & { kind: 'sr' | 'sc' | 'seg'; analysis?: string; srSopClass: SrClass; scSopClass: ScClass })[];
  deliveryJobIds: number[];
  timings: Record<string, number>;
}

export interface AnalysisWorkerDeps {
  config: Config;
  jobs: JobStore;
  store: InstanceStore;
  settings: SettingsRepository;
  clinical: ClinicalRepository;
  models: ModelSource;
  outbox: Outbox;
  pool?: WorkerPool;
  priorStudies?: PriorStudyProvider;
  logger: Logger;
  pollMs?: number;
}

export class AnalysisWorker {
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: AnalysisWorkerDeps) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.deps.pollMs ?? 2000);
    this.timer.unref();
    this.kick();
  }

  /**
   * Starts as many queued jobs as the concurrency allows. Never throws: a database error (SQLITE_BUSY, a
   * full disk) is logged and counted, and the next poll tries again.
   */
  kick(): void {
    try {
      this.kickInner();
    } catch (err) {
      countUnexpectedError('analysis-worker');
      this.deps.logger.error('analysis worker: cannot take a job now; trying again at the next poll', { error: errorMessage(err) });
    }
  }

  private kickInner(): void {
    while (!this.stopped && this.running < this.deps.config.analysis.concurrency) {
      const job = this.deps.jobs.claimNext('analysis');
      if (!job) return;
      this.running++;
      const p = this.run(job).catch((err: unknown) => {
        countUnexpectedError('analysis-worker');
        this.deps.logger.error('analysis job: outcome not recorded (re-queued at the next start)', { jobId: job.id, error: errorMessage(err) });
      }).finally(() => {
        this.running--;
        this.inFlight.delete(p);
        setImmediate(() => this.kick());
      });
      this.inFlight.add(p);
    }
  }

  /** Stops taking jobs; waits up to `timeoutMs` for running ones (a job cut short is re-queued at the next start). */
  async stop(timeoutMs = 20_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.race([Promise.all([...this.inFlight]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  private async run(job: Job): Promise<void> {
    const log = this.deps.logger.child({ jobId: job.id, studyInstanceUid: job.studyInstanceUid });
    const started = Date.now();
    try {
      const result = await this.analyse(job, log);
      this.deps.jobs.complete(job.id, result);
      log.info('analysis done', { ms: Date.now() - started, outputs: result.outputs.length, deliveries: result.deliveryJobIds.length });
    } catch (err) {
      const message = errorMessage(err);
      log.error('analysis failed', { error: message });
      // Faults here (an unreadable store, a full disk) may pass: retry a few times with a pause.
      this.deps.jobs.fail(job.id, message, true, { retryAt: new Date(Date.now() + 60_000), maxAttempts: 3 });
    }
  }

  private async analyse(job: Job, log: Logger): Promise<AnalysisJobResult> {
    const { config, settings, store } = this.deps;
    preloadFonts(); // parsed while the analyses run, not when the first heat map is drawn
    const calledAeTitle = job.calledAeTitle ?? config.localAeTitles[0]!.aeTitle;
    const local = settings.aeTitles.get(calledAeTitle);
    const all = store.listStudyInstances(job.studyInstanceUid);
    const mine = all.filter((i) => i.calledAeTitle === calledAeTitle);
    const instances = mine.length ? mine : all;
    const patientId = typeof instances[0]?.header.PatientID === 'string' ? instances[0].header.PatientID : undefined;
    const clinical = patientId ? this.deps.clinical.get(patientId)?.clinical : undefined;
    const analysis = await analyseStudy(
      {
        studyInstanceUid: job.studyInstanceUid,
        instances,
        analyses: local?.analyses ?? ALL_ANALYSES,
        ...(clinical ? { clinical } : {}),
        ...(this.deps.priorStudies ? { priorStudies: this.deps.priorStudies } : {}),
      },
      { models: this.deps.models, rules: config.selection.rules, ...(this.deps.pool ? { pool: this.deps.pool } : {}) },
    );
    const generation = resultGeneration(job.generation ?? 0);
    const predecessors = this.predecessorsOf(job);
    const callingAeTitle = mostCommon(instances.map((i) => i.callingAeTitle).filter(Boolean), (ae) => ae);
    const routing = this.deps.outbox.routing({ calledAeTitle, ...(callingAeTitle ? { callingAeTitle } : {}) });
    // One encoding per SOP-class combination the targets need; the default when nothing is routed.
    const groups = new Map<string, { sr: SrClass; sc: ScClass; keys: string[] }>();
    for (const t of routing.targets) {
      const d = t.origin === 'destination' ? settings.destinations.get(t.key) : undefined;
      const sr = d?.srSopClass ?? 'comprehensive3d';
      const sc = d?.scSopClass ?? 'sc';
      const g = groups.get(`${sr}|${sc}`) ?? { sr, sc, keys: [] };
      g.keys.push(t.key);
      groups.set(`${sr}|${sc}`, g);
    }
    if (!groups.size) groups.set('default', { sr: 'comprehensive3d', sc: 'sc', keys: [] });
    const outputs: AnalysisJobResult['outputs'] = [];
    const deliveryJobIds: number[] = [];
    const contentDateTime = new Date(job.createdAt);
    const device = nodeDeviceIdentity(calledAeTitle);
    const tEncode = Date.now();
    for (const g of groups.values()) {
      const encoded = await encodeResults({
        studyHeader: analysis.studyHeader,
        results: analysis.results,
        ...(analysis.localisation ? { localisation: analysis.localisation } : {}),
        volumes: analysis.volumes,
        instances,
        generation,
        predecessors: predecessors.filter((p) => p.srSopClass === g.sr && p.scSopClass === g.sc),
        device,
        srSopClass: g.sr,
        scSopClass: g.sc,
        contentDateTime,
        logger: log,
      });
      const files = await writeResultObjects(
        config.dataDir,
        job.studyInstanceUid,
        encoded.map((o) => ({ sopInstanceUid: o.sopInstanceUid, sopClassUid: o.sopClassUid, data: o.buffer })),
      );
      for (const o of encoded) outputs.push({ sopInstanceUid: o.sopInstanceUid, seriesInstanceUid: o.seriesInstanceUid, sopClassUid: o.sopClassUid, kind: o.kind, ...(o.analysis ? { analysis: o.analysis } : {}), srSopClass: g.sr, scSopClass: g.sc });
      if (g.keys.length) {
        const { jobs } = this.deps.outbox.enqueue({
          studyInstanceUid: job.studyInstanceUid,
          calledAeTitle,
          ...(callingAeTitle ? { callingAeTitle } : {}),
          parentJobId: job.id,
          files,
          onlyTargets: g.keys,
        });
        deliveryJobIds.push(...jobs.map((j) => j.id));
      }
    }
    if (!routing.targets.length) log.warn('results stored but not routed anywhere', { calledAeTitle });
    return {
      generation,
      results: analysis.results.map(summariseResult),
      selectedSeries: analysis.selectedSeries,
      missingRoles: analysis.missingRoles,
      outputs,
      deliveryJobIds,
      timings: { ...analysis.timings, encodeMs: Date.now() - tEncode },
    };
  }

  /** The objects of the analysis this job replaces, for Predecessor Documents / replaced heat maps. */
  private predecessorsOf(job: Job): AnalysisJobResult['outputs'] {
    if (!job.parentJobId) return [];
    const parent = this.deps.jobs.get(job.parentJobId);
    const r = parent?.result as Partial<AnalysisJobResult> | null | undefined;
    return Array.isArray(r?.outputs) ? r!.outputs : [];
  }
}

