/**
 * The delivery outbox: results waiting to go to the PACS, persisted in the `jobs` table (kind 'delivery'),
 * one job per (result batch, destination).
 *
 * - `enqueue` resolves the routing (src/deliver/routing.ts) and inserts one job per target in one
 *   transaction; the Part 10 files are already durable under <dataDir>/results (see writeResultObjects).
 * - A timer-driven scheduler starts due jobs, at most one per destination at a time; destinations are
 *   independent, so one destination's outage never holds back another (or new analyses, which only
 *   enqueue).
 * - Each attempt records the outcome per SOP instance; instances already stored are not sent again.
 *   Failures are retried with exponential backoff and jitter (config.delivery) up to maxAttempts, then the
 *   job is 'dead'. A permanent failure (e.g. STOW-RS 4xx, unreadable file) makes it 'failed' at once.
 *   Both stay visible and can be sent again with `retry(id)`.
 * - Jobs left 'running' by a stop or crash are re-queued by `start()`. Our result objects have deterministic
 *   SOP Instance UIDs, so sending one again after an unanswered attempt does not duplicate it in a PACS.
 *
 * The rows are owned by src/jobs/delivery-job-repository.ts (states documented there as DeliveryJobState);
 * the transitions are the pure functions of src/deliver/delivery-state.ts; each destination type's
 * protocol is its module in src/deliver/destination-types/.
 */
import { EventEmitter } from 'node:events';
import { countUnexpectedError } from '../util/unexpected-errors';
import { existsSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema';
import { isValidUid } from '../dicom/uids';
import { DeliveryJobRepository, type DeliveryJobState } from '../jobs/delivery-job-repository';
import type { Logger } from '../logging/logger';
import type { Db } from '../store/database';
import { DirectorySyncer, ensureDir, placeDurably } from '../store/durable-write';
import type { SettingsRepository } from '../store/settings-repository';
import type { StoreFile } from './cstore-scu';
import { toDeliveryJob, type DeliveryFileState, type DeliveryJob } from './delivery-job';
import { nextDeliveryState, pendingFiles, retryDeliveryState } from './delivery-state';
import { describeTarget, destinationCredentials, sendToTarget, type AttemptOutcome, type SendContext } from './destination-types';
import { resolveRouting, targetFromDestination, type DeliveryTarget, type Routing } from './routing';
import { errorMessage } from '../util/error-message';

export { DELIVERY_KIND, type DeliveryFileState, type DeliveryHistoryEntry, type DeliveryJob, type DeliveryJobState } from './delivery-job';
export type { AttemptOutcome } from './destination-types';

export interface OutboxFile {
  /** Absolute, or relative to the data dir. */
  path: string;
  sopInstanceUid: string;
  sopClassUid: string;
}

export interface EnqueueRequest {
  studyInstanceUid: string;
  /** The local AE title that received the study (selects the routing). */
  calledAeTitle: string;
  /** The AE title that sent the study (for "back to the sender"). */
  callingAeTitle?: string;
  /** The address the study came from, used for replies when the source has no host configured. */
  callingHost?: string;
  /** The analysis job that produced the objects, if any. */
  parentJobId?: number;
  files: OutboxFile[];
  /** Only these routes (by target key); the caller encodes per destination's SOP classes. Default: all. */
  onlyTargets?: string[];
}

export type RetryResult =
  | { ok: true; job: DeliveryJob }
  | { ok: false; reason: 'not-found' | 'not-retryable'; message: string };

/** Sends one batch to one target. Must not throw for peer or network problems. */
export type DeliverySender = (
  target: DeliveryTarget,
  files: StoreFile[],
  ctx: SendContext,
) => Promise<AttemptOutcome>;

export interface OutboxOptions {
  db: Db;
  settings: SettingsRepository;
  dataDir: string;
  delivery: Config['delivery'];
  logger: Logger;
  /** Replaces the network senders (for tests of the scheduling itself). */
  send?: DeliverySender;
  random?: () => number;
  /** Upper bound on the scheduler's sleep, so that changes made elsewhere (enabled flags) are seen. */
  maxPollMs?: number;
}

/** The default sender: each target by its destination type's protocol (C-STORE, STOW-RS). */
export const sendOverNetwork: DeliverySender = sendToTarget;

export class Outbox extends EventEmitter<{ 'job-updated': [DeliveryJob] }> {
  private readonly jobs: DeliveryJobRepository;
  private readonly log: Logger;
  private readonly send: DeliverySender;
  private readonly random: () => number;
  private readonly maxPollMs: number;
  private readonly busy = new Set<string>();
  private readonly inflight = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
  private abort = new AbortController();

  constructor(private readonly opts: OutboxOptions) {
    super();
    this.jobs = new DeliveryJobRepository(opts.db);
    this.log = opts.logger.child({ component: 'outbox' });
    this.send = opts.send ?? sendOverNetwork;
    this.random = opts.random ?? Math.random;
    this.maxPollMs = opts.maxPollMs ?? 5000;
  }

  /** Where results of a study received by this local AE title would go now (no job is created). */
  routing(req: Pick<EnqueueRequest, 'calledAeTitle' | 'callingAeTitle' | 'callingHost'>): Routing {
    const { settings } = this.opts;
    return resolveRouting(req, {
      localAeTitle: (ae) => settings.aeTitles.get(ae),
      source: (ae) => settings.sources.get(ae),
      destination: (n) => settings.destinations.get(n),
    });
  }

  /** Resolves the routing and queues one delivery job per target, in one transaction. */
  enqueue(req: EnqueueRequest): { jobs: DeliveryJob[]; skipped: Routing['skipped'] } {
    if (!isValidUid(req.studyInstanceUid)) throw new Error(`invalid Study Instance UID ${JSON.stringify(req.studyInstanceUid)}`);
    if (req.files.length === 0) throw new Error('nothing to deliver: no files');
    for (const f of req.files) {
      if (!isValidUid(f.sopInstanceUid) || !isValidUid(f.sopClassUid)) throw new Error(`invalid UID in file entry ${f.path}`);
      if (!existsSync(this.absolute(f.path))) throw new Error(`result file missing: ${f.path}`);
    }
    const all = this.routing(req);
    const routing = req.onlyTargets ? { targets: all.targets.filter((t) => req.onlyTargets!.includes(t.key)), skipped: all.skipped } : all;
    const now = new Date().toISOString();
    const files: DeliveryFileState[] = req.files.map((f) => ({
      path: this.relative(f.path),
      sopInstanceUid: f.sopInstanceUid,
      sopClassUid: f.sopClassUid,
      state: 'pending',
    }));
    const ids = this.jobs.insertAll(
      routing.targets.map((target) => ({
        studyInstanceUid: req.studyInstanceUid,
        calledAeTitle: req.calledAeTitle,
        parentJobId: req.parentJobId ?? null,
        destination: target.key,
        payload: { target, files },
        history: [{ at: now, event: 'queued', message: describeTarget(target) }],
      })),
      now,
    );
    for (const s of routing.skipped) this.log.warn('route not used', { study: req.studyInstanceUid, route: s.key, reason: s.reason });
    if (routing.targets.length === 0) this.log.warn('results have no destination', { study: req.studyInstanceUid, calledAeTitle: req.calledAeTitle });
    const jobs = ids.map((id) => this.get(id)!);
    for (const j of jobs) this.log.info('delivery queued', { jobId: j.id, study: j.studyInstanceUid, destination: j.destination, instances: j.files.length });
    this.kick();
    return { jobs, skipped: routing.skipped };
  }

  get(id: number): DeliveryJob | undefined {
    const row = this.jobs.get(id);
    return row ? toDeliveryJob(row) : undefined;
  }

  list(filter: { state?: DeliveryJobState; studyInstanceUid?: string; destination?: string } = {}): DeliveryJob[] {
    return this.jobs.list(filter).map(toDeliveryJob);
  }

  /**
   * Sends a 'dead' or 'failed' job again from a fresh attempt count (instances already stored are not
   * sent again); a 'queued' job waiting for its backoff is brought forward to now.
   */
  retry(id: number): RetryResult {
    const job = this.get(id);
    if (!job) return { ok: false, reason: 'not-found', message: `no delivery job ${id}` };
    const now = new Date();
    const r = retryDeliveryState(job, now);
    if (!r.ok) return { ok: false, reason: 'not-retryable', message: r.message };
    if (!this.jobs.update(id, job.state, r.update, now.toISOString())) {
      return { ok: false, reason: 'not-retryable', message: `delivery job ${id} changed state; try again` };
    }
    this.log.info('delivery retry requested', { jobId: id, from: job.state });
    const updated = this.get(id)!;
    this.emit('job-updated', updated);
    this.kick();
    return { ok: true, job: updated };
  }

  /** Re-queues jobs a previous run left 'running' and starts the scheduler. */
  start(): void {
    if (this.running) return;
    const stale = this.jobs.requeueRunning(new Date().toISOString(), 'the node stopped during a send; sending again');
    if (stale.length) this.log.info('delivery jobs re-queued after restart', { count: stale.length });
    this.running = true;
    this.closed = false;
    this.abort = new AbortController();
    this.kick();
  }

  /**
   * Stops starting sends, waits up to `timeoutMs` for the ones in flight, then interrupts the rest; an
   * interrupted send is re-queued (not counted as an attempt). Jobs still 'running' when this returns
   * (their promise did not settle in time) are re-queued by the next start().
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const all = () => Promise.allSettled([...this.inflight.values()]);
    if (this.inflight.size) {
      const finished = await Promise.race([all().then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!finished) {
        this.abort.abort();
        await Promise.race([all(), sleep(2000)]);
      }
    }
    this.closed = true;
  }

  /** Looks for due jobs now (called after enqueue, retry, and each finished send). */
  kick(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), 0).unref();
  }

  /** Starts the due job of each idle, enabled destination, then sleeps until the next one is due. */
  private tick(): void {
    this.timer = undefined;
    if (!this.running) return;
    try {
      const now = new Date().toISOString();
      let nextDue: number | undefined;
      for (const h of this.jobs.queuedDestinations()) {
        if (this.busy.has(h.destination) || this.isDisabled(h.destination)) continue;
        const due = h.due ?? now;
        if (due > now) {
          const t = Date.parse(due);
          nextDue = nextDue === undefined ? t : Math.min(nextDue, t);
          continue;
        }
        const row = this.jobs.nextDue(h.destination, now);
        if (!row || !this.jobs.claim(row.id, now)) continue;
        this.busy.add(h.destination);
        const p = this.process(toDeliveryJob({ ...row, state: 'running' })).catch((e: unknown) => {
          countUnexpectedError('outbox');
          this.log.error('delivery attempt failed unexpectedly; the job is re-queued at the next start', { jobId: row.id, error: errorMessage(e) });
        }).finally(() => {
          this.inflight.delete(row.id);
          this.busy.delete(h.destination);
          this.kick();
        });
        this.inflight.set(row.id, p);
      }
      const wait = nextDue === undefined ? this.maxPollMs : Math.min(this.maxPollMs, Math.max(0, nextDue - Date.now()));
      this.timer = setTimeout(() => this.tick(), wait).unref();
    } catch (e) {
      if (this.closed) return;
      countUnexpectedError('outbox');
      this.log.error('delivery scheduler error', { error: errorMessage(e) });
      this.timer = setTimeout(() => this.tick(), this.maxPollMs).unref();
    }
  }

  private isDisabled(destination: string): boolean {
    const d = this.opts.settings.destinations.get(destination);
    return d !== undefined && !d.enabled;
  }

  /** The target as configured now (an edited host or port applies to waiting jobs), else as recorded. */
  private currentTarget(job: DeliveryJob): { target: DeliveryTarget; credentials: Pick<SendContext, 'authorization'> } {
    if (job.target.origin !== 'destination') return { target: job.target, credentials: {} };
    const d = this.opts.settings.destinations.get(job.destination);
    if (!d) return { target: job.target, credentials: {} };
    const recordedCalling = 'callingAeTitle' in job.target ? job.target.callingAeTitle : '';
    return { target: targetFromDestination(d, job.calledAeTitle ?? recordedCalling), credentials: destinationCredentials(d) };
  }

  /** One attempt of a claimed job: send what is pending, apply the transition, persist it. */
  private async process(job: DeliveryJob): Promise<void> {
    const { target, credentials } = this.currentTarget(job);
    const started = Date.now();
    const outcome = await this.sendSafely(target, pendingFiles(job), credentials);
    if (this.closed) return; // the store may be closed: the job stays 'running' and is re-queued at start
    const next = nextDeliveryState(
      job,
      { ...outcome, interrupted: this.abort.signal.aborted, elapsedMs: Date.now() - started },
      this.opts.delivery,
      new Date(),
      this.random,
    );
    const log = this.log.child({ jobId: job.id, study: job.studyInstanceUid, destination: job.destination });
    try {
      if (!this.jobs.update(job.id, 'running', next, new Date().toISOString())) {
        log.warn('delivery job changed state during its send; outcome not recorded', { attempt: next.attempt });
        return;
      }
    } catch (e) {
      log.error('cannot record delivery outcome', { error: errorMessage(e) });
      return;
    }
    const { state, error, nextAttemptAt } = next;
    const fields = { attempt: next.attempt, sent: next.result.sent, failed: next.result.failed, state };
    if (state === 'done') log.info('delivered', fields);
    else if (state === 'queued') log.warn('delivery attempt failed; will retry', { ...fields, error, nextAttemptAt });
    else log.error('delivery stopped', { ...fields, error });
    const updated = this.get(job.id);
    if (updated) this.emit('job-updated', updated);
  }

  private async sendSafely(target: DeliveryTarget, files: DeliveryFileState[], credentials: Pick<SendContext, 'authorization'>): Promise<AttemptOutcome> {
    try {
      return await this.send(
        target,
        files.map((f) => ({ path: this.absolute(f.path), sopInstanceUid: f.sopInstanceUid, sopClassUid: f.sopClassUid })),
        { signal: this.abort.signal, responseTimeoutSeconds: this.opts.delivery.responseTimeoutSeconds, ...credentials },
      );
    } catch (e) {
      return { error: `sender failed: ${errorMessage(e)}`, results: [] };
    }
  }

  private absolute(p: string): string {
    return path.isAbsolute(p) ? p : path.join(this.opts.dataDir, p);
  }

  private relative(p: string): string {
    const abs = path.resolve(this.absolute(p));
    const rel = path.relative(path.resolve(this.opts.dataDir), abs);
    return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
  }
}


function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export interface ResultObject {
  sopInstanceUid: string;
  sopClassUid: string;
  /** A complete Part 10 file. */
  data: Buffer;
}

/** Result files: the node's user writes, its group (e.g. a backup agent) reads, nobody else. */
export const RESULT_FILE_MODE = 0o640;
export const RESULT_DIR_MODE = 0o750;

/**
 * Writes result objects durably (src/store/durable-write.ts: temp file, fsync, rename, directory fsync) to
 * <dataDir>/results/<StudyInstanceUID>/<SOPInstanceUID>.dcm and returns the entries for `enqueue`
 * (paths relative to dataDir). Writing the same SOP Instance UID again replaces the file.
 */
export async function writeResultObjects(dataDir: string, studyInstanceUid: string, objects: ResultObject[]): Promise<OutboxFile[]> {
  if (!isValidUid(studyInstanceUid)) throw new Error(`invalid Study Instance UID ${JSON.stringify(studyInstanceUid)}`);
  for (const o of objects) {
    if (!isValidUid(o.sopInstanceUid) || !isValidUid(o.sopClassUid)) throw new Error(`invalid UID for result object ${JSON.stringify(o.sopInstanceUid)}`);
  }
  const relDir = path.join('results', studyInstanceUid);
  const dir = path.join(dataDir, relDir);
  const syncer = new DirectorySyncer(true);
  await ensureDir(dir, syncer, RESULT_DIR_MODE);
  // Concurrent placements into one directory share its fsync (DirectorySyncer's group commit).
  return Promise.all(
    objects.map(async (o, i): Promise<OutboxFile> => {
      const final = path.join(dir, `${o.sopInstanceUid}.dcm`);
      const tmp = `${final}.tmp-${process.pid}-${Date.now()}-${i}`;
      const fh = await open(tmp, 'w', RESULT_FILE_MODE);
      try {
        await fh.writeFile(o.data);
        await placeDurably(tmp, final, syncer, { syncData: true, openFd: fh.fd });
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      } finally {
        await fh.close();
      }
      return { path: path.join(relDir, `${o.sopInstanceUid}.dcm`), sopInstanceUid: o.sopInstanceUid, sopClassUid: o.sopClassUid };
    }),
  );
}
