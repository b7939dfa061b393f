/**
 * Retention and the free-space check, run on `retention.schedule` (node-cron) and by
 * POST /api/v1/maintenance/retention.
 *
 * - Received instances of a study reception go `receivedHours` after its last instance, and only when its
 *   current generation's analysis is done and every delivery of those results succeeded (no delivery rows:
 *   the study had no destination). Never while an analysis or a delivery of the study is queued or
 *   running; a failed or dead analysis or delivery keeps the study (an operator may still retry it). The
 *   studies row stays, with `purged_at` set; a resend is a new arrival that reopens the study as a new
 *   generation (StudyRepository.reopen clears `purged_at`).
 * - Result files (<dataDir>/results/<StudyInstanceUID>/: SR, SC, SEG, which the delivery rows name) go
 *   `resultsHours` after the newest of them was written, unless a delivery or an analysis of the study is
 *   queued or running. Temp files a crash left there (writeResultObjects) go after an hour.
 * - 0 hours keeps forever. Each purge emits 'purged' (the coordinator wires it to the audit trail).
 * - The free-space check compares the data volume's free space with the watermark (storage.freeSpaceWatermarkMb,
 *   below which instances are refused) and warns from `freeSpaceWarningFactor` times it.
 *
 * Time comes from an injectable clock, so tests run retention with a fake one.
 */
import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { schedule as cronSchedule, type ScheduledTask } from 'node-cron';
import type { RetentionConfig } from '../config/schema';
import type { StudyRepository, StudyRecord } from '../assemble/study-repository';
import type { Job, JobStore } from '../jobs/job-store';
import type { Logger } from '../logging/logger';
import type { InstanceStore } from '../store/instance-store';
import { FreeSpaceMonitor } from '../store/free-space';
import { errorMessage } from '../util/error-message';

const HOUR_MS = 3600_000;
const TEMP_FILE_AGE_MS = HOUR_MS;

export interface RetentionClock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface PurgedEvent {
  kind: 'received' | 'results';
  studyInstanceUid: string;
  /** The reception (received instances only). */
  calledAeTitle?: string;
  accessionNumber: string | null;
  /** Files removed and their bytes. */
  files: number;
  bytes: number;
}

export interface KeptStudy {
  studyInstanceUid: string;
  calledAeTitle?: string;
  reason: string;
}

export type FreeSpaceState = 'ok' | 'warning' | 'below-watermark';

export interface FreeSpaceStatus {
  state: FreeSpaceState;
  freeBytes: number;
  watermarkBytes: number;
  /** Free space below which the check warns. */
  warnBelowBytes: number;
  checkedAt: string;
}

export interface RetentionReport {
  startedAt: string;
  finishedAt: string;
  received: { hours: number; purged: PurgedEvent[]; kept: KeptStudy[] };
  results: { hours: number; purged: PurgedEvent[]; kept: KeptStudy[]; tempFilesRemoved: number };
  bytesFreed: number;
  freeSpace: FreeSpaceStatus | { state: 'unknown'; error: string };
}

export interface RetentionServiceOptions {
  config: RetentionConfig;
  /** storage.freeSpaceWatermarkMb */
  freeSpaceWatermarkMb: number;
  dataDir: string;
  studies: StudyRepository;
  jobs: JobStore;
  instances: InstanceStore;
  logger: Logger;
  clock?: RetentionClock;
  /** The free bytes of the data volume (tests); default statfs of dataDir. */
  freeBytes?: () => Promise<number>;
}

const PENDING: ReadonlySet<string> = new Set(['queued', 'running']);

export class RetentionService extends EventEmitter<{ purged: [PurgedEvent]; 'free-space': [FreeSpaceStatus] }> {
  private readonly clock: RetentionClock;
  private readonly log: Logger;
  private readonly freeBytes: () => Promise<number>;
  private task: ScheduledTask | undefined;
  private running: Promise<RetentionReport> | undefined;
  /** The last free-space check (null before the first). */
  lastFreeSpace: FreeSpaceStatus | null = null;

  constructor(private readonly opts: RetentionServiceOptions) {
    super();
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.log = opts.logger.child({ component: 'retention' });
    const monitor = new FreeSpaceMonitor(opts.dataDir, 0, 0);
    this.freeBytes = opts.freeBytes ?? (() => monitor.freeBytes());
  }

  /** Runs retention and the free-space check on the configured schedule. */
  start(): void {
    if (this.task) return;
    this.task = cronSchedule(
      this.opts.config.schedule,
      async () => {
        try {
          await this.run();
        } catch (e) {
          this.log.error('scheduled retention failed', { error: errorMessage(e) });
        }
      },
      { name: 'retention', noOverlap: true },
    );
    this.log.info('retention scheduled', {
      schedule: this.opts.config.schedule,
      receivedHours: this.opts.config.receivedHours,
      resultsHours: this.opts.config.resultsHours,
    });
  }

  async stop(): Promise<void> {
    const t = this.task;
    this.task = undefined;
    if (t) await t.destroy();
    await this.running?.catch(() => undefined);
  }

  /** One pass now (a pass already running is joined, not run twice). */
  run(): Promise<RetentionReport> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Free space of the data volume against the watermark; logs a warning below the warning level. */
  async checkFreeSpace(): Promise<FreeSpaceStatus> {
    const watermarkBytes = this.opts.freeSpaceWatermarkMb * 1024 * 1024;
    const warnBelowBytes = watermarkBytes * this.opts.config.freeSpaceWarningFactor;
    const freeBytes = await this.freeBytes();
    const state: FreeSpaceState = watermarkBytes > 0 && freeBytes < watermarkBytes ? 'below-watermark' : watermarkBytes > 0 && freeBytes < warnBelowBytes ? 'warning' : 'ok';
    const status: FreeSpaceStatus = { state, freeBytes, watermarkBytes, warnBelowBytes, checkedAt: new Date(this.clock.now()).toISOString() };
    if (state === 'below-watermark') this.log.error('free space below the watermark: new instances are refused (0xA700)', { ...status });
    else if (state === 'warning') this.log.warn('free space is running low: instances will be refused at the watermark', { ...status });
    this.lastFreeSpace = status;
    this.emit('free-space', status);
    return status;
  }

  private async pass(): Promise<RetentionReport> {
    const startedAt = new Date(this.clock.now()).toISOString();
    const received = await this.purgeReceived();
    const results = await this.purgeResults();
    let freeSpace: RetentionReport['freeSpace'];
    try {
      freeSpace = await this.checkFreeSpace();
    } catch (e) {
      freeSpace = { state: 'unknown', error: errorMessage(e) };
      this.log.error('free-space check failed', { error: errorMessage(e) });
    }
    const bytesFreed = [...received.purged, ...results.purged].reduce((n, p) => n + p.bytes, 0);
    const report: RetentionReport = { startedAt, finishedAt: new Date(this.clock.now()).toISOString(), received, results, bytesFreed, freeSpace };
    if (received.purged.length || results.purged.length) {
      this.log.info('retention purged', { studies: received.purged.length, results: results.purged.length, bytesFreed, kept: received.kept.length + results.kept.length });
    }
    return report;
  }

  private async purgeReceived(): Promise<RetentionReport['received']> {
    const hours = this.opts.config.receivedHours;
    const out: RetentionReport['received'] = { hours, purged: [], kept: [] };
    if (hours <= 0) return out;
    const before = new Date(this.clock.now() - hours * HOUR_MS).toISOString();
    for (const study of this.opts.studies.retentionCandidates(before)) {
      const key = { studyInstanceUid: study.studyInstanceUid, calledAeTitle: study.calledAeTitle };
      const reason = this.whyKeepReceived(study);
      if (reason) {
        out.kept.push({ ...key, reason });
        continue;
      }
      try {
        const r = await this.opts.instances.purgeStudyInstances(study.studyInstanceUid, study.calledAeTitle);
        this.opts.studies.markPurged(key, study.generation, new Date(this.clock.now()).toISOString());
        const ev: PurgedEvent = { kind: 'received', ...key, accessionNumber: r.accessionNumber, files: r.instances, bytes: r.bytes };
        out.purged.push(ev);
        this.log.info('received instances purged', { studyInstanceUid: key.studyInstanceUid, calledAeTitle: key.calledAeTitle, instances: r.instances, bytes: r.bytes });
        this.emitPurged(ev);
      } catch (e) {
        out.kept.push({ ...key, reason: `purge failed: ${errorMessage(e)}` });
        this.log.error('purging received instances failed', { studyInstanceUid: key.studyInstanceUid, error: errorMessage(e) });
      }
    }
    return out;
  }

  /** Why a study reception past its age must keep its received instances (undefined: it may go). */
  private whyKeepReceived(study: StudyRecord): string | undefined {
    const { studyInstanceUid: uid, calledAeTitle: ae } = study;
    const analyses = this.opts.jobs.list({ kind: 'analysis', study: uid, calledAeTitle: ae, limit: 1000 });
    if (analyses.some((j) => PENDING.has(j.state))) return 'an analysis is queued or running';
    const deliveries = this.opts.jobs.list({ kind: 'delivery', study: uid, limit: 10000 }).filter((j) => j.calledAeTitle === null || j.calledAeTitle === ae);
    if (deliveries.some((j) => PENDING.has(j.state))) return 'a delivery is queued or running';
    const latest = analyses.find((j) => j.generation === study.generation);
    if (!latest) return `no analysis job for generation ${study.generation}`;
    if (latest.state !== 'done') return `the analysis ${latest.state === 'superseded' ? 'was superseded' : `is ${latest.state}`} (kept for a retry)`;
    const ofLatest: Job[] = deliveries.filter((j) => j.parentJobId === latest.id && j.state !== 'superseded');
    const notDone = ofLatest.filter((j) => j.state !== 'done');
    if (notDone.length) return `delivery not done: ${notDone.map((j) => `${j.destination} ${j.state}`).join(', ')}`;
    return undefined;
  }

  private async purgeResults(): Promise<RetentionReport['results']> {
    const hours = this.opts.config.resultsHours;
    const out: RetentionReport['results'] = { hours, purged: [], kept: [], tempFilesRemoved: 0 };
    const root = path.join(this.opts.dataDir, 'results');
    const now = this.clock.now();
    let uids: string[];
    try {
      uids = await fsp.readdir(root);
    } catch {
      return out;
    }
    for (const uid of uids) {
      const dir = path.join(root, uid);
      let files: { name: string; size: number; mtimeMs: number }[];
      try {
        const names = await fsp.readdir(dir);
        files = await Promise.all(names.map(async (name) => ({ name, ...(await fsp.stat(path.join(dir, name))) })));
      } catch {
        continue;
      }
      // The sweep: temp files left by a crash during writeResultObjects.
      for (const f of files.filter((f) => f.name.includes('.tmp-') && now - f.mtimeMs > TEMP_FILE_AGE_MS)) {
        await fsp.rm(path.join(dir, f.name), { force: true });
        out.tempFilesRemoved += 1;
      }
      if (hours <= 0) continue;
      const kept = files.filter((f) => !f.name.includes('.tmp-'));
      if (kept.length === 0) continue;
      const newest = Math.max(...kept.map((f) => f.mtimeMs));
      if (now - newest < hours * HOUR_MS) continue;
      const jobs = this.opts.jobs.list({ study: uid, limit: 10000 });
      if (jobs.some((j) => PENDING.has(j.state))) {
        out.kept.push({ studyInstanceUid: uid, reason: `${jobs.find((j) => PENDING.has(j.state))!.kind} queued or running` });
        continue;
      }
      try {
        await fsp.rm(dir, { recursive: true, force: true });
        this.opts.studies.markResultsPurged(uid, new Date(now).toISOString());
        const ev: PurgedEvent = { kind: 'results', studyInstanceUid: uid, accessionNumber: null, files: kept.length, bytes: kept.reduce((n, f) => n + f.size, 0) };
        out.purged.push(ev);
        this.log.info('result files purged', { studyInstanceUid: uid, files: ev.files, bytes: ev.bytes });
        this.emitPurged(ev);
      } catch (e) {
        out.kept.push({ studyInstanceUid: uid, reason: `purge failed: ${errorMessage(e)}` });
      }
    }
    return out;
  }

  private emitPurged(ev: PurgedEvent): void {
    try {
      this.emit('purged', ev);
    } catch (e) {
      this.log.error('purged listener failed', { error: errorMessage(e) });
    }
  }
}
