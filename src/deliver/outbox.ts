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
 * Job states: queued -> running -> done | queued (retry later) | failed | dead.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/schema';
import { isValidUid } from '../dicom/uids';
import type { Logger } from '../logging/logger';
import type { Db } from '../store/database';
import type { SettingsRepository } from '../store/settings-repository';
import { backoffDelayMs } from './backoff';
import { storeInstances, type InstanceOutcome, type StoreFile } from './cstore-scu';
import { resolveRouting, targetFromDestination, type DeliveryTarget, type Routing } from './routing';
import { stowInstances } from './stow-client';
import type { JobRow } from '../jobs/job-store';

export const DELIVERY_KIND = 'delivery';

export type DeliveryJobState = 'queued' | 'running' | 'done' | 'failed' | 'dead';

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

const FileStateSchema = z.object({
  path: z.string(),
  sopInstanceUid: z.string(),
  sopClassUid: z.string(),
  state: z.enum(['pending', 'sent', 'failed']),
  /** Outcome of the last attempt for this instance. */
  message: z.string().optional(),
  status: z.number().optional(),
  permanent: z.boolean().optional(),
  sentAt: z.string().optional(),
});
export type DeliveryFileState = z.infer<typeof FileStateSchema>;

const TargetSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('dimse'),
    key: z.string(),
    origin: z.enum(['destination', 'sender']),
    aeTitle: z.string(),
    host: z.string(),
    port: z.number(),
    callingAeTitle: z.string(),
  }),
  z.object({ type: z.literal('dicomweb'), key: z.string(), origin: z.literal('destination'), url: z.string() }),
]);

const PayloadSchema = z.object({ target: TargetSchema, files: z.array(FileStateSchema) });
type Payload = z.infer<typeof PayloadSchema>;

const HistoryEntrySchema = z.object({
  at: z.string(),
  event: z.string(),
  attempt: z.number().optional(),
  message: z.string().optional(),
  sent: z.number().optional(),
  failed: z.number().optional(),
});
export type DeliveryHistoryEntry = z.infer<typeof HistoryEntrySchema>;

export interface DeliveryJob {
  id: number;
  kind: typeof DELIVERY_KIND;
  state: DeliveryJobState;
  studyInstanceUid: string;
  calledAeTitle: string | null;
  parentJobId: number | null;
  destination: string;
  target: DeliveryTarget;
  files: DeliveryFileState[];
  attempts: number;
  nextAttemptAt: string | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  history: DeliveryHistoryEntry[];
}

export type RetryResult =
  | { ok: true; job: DeliveryJob }
  | { ok: false; reason: 'not-found' | 'not-retryable'; message: string };

export interface AttemptOutcome {
  results: InstanceOutcome[];
  error?: string;
}

/** Sends one batch to one target. Must not throw for peer or network problems. */
export type DeliverySender = (
  target: DeliveryTarget,
  files: StoreFile[],
  ctx: { signal: AbortSignal; authorization?: string; responseTimeoutSeconds: number },
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


/** The default sender: C-STORE for DIMSE targets, STOW-RS for DICOMweb targets. */
export const sendOverNetwork: DeliverySender = async (target, files, ctx) => {
  if (target.type === 'dimse') {
    const o = await storeInstances(
      { host: target.host, port: target.port, calledAeTitle: target.aeTitle, callingAeTitle: target.callingAeTitle },
      files,
      { responseTimeoutSeconds: ctx.responseTimeoutSeconds, signal: ctx.signal },
    );
    return { results: o.results, ...(o.error ? { error: o.error } : {}) };
  }
  const o = await stowInstances(
    { url: target.url, ...(ctx.authorization ? { authorization: ctx.authorization } : {}) },
    files,
    { timeoutSeconds: ctx.responseTimeoutSeconds, signal: ctx.signal },
  );
  return { results: o.results, ...(o.error ? { error: o.error } : {}) };
};

export class Outbox extends EventEmitter<{ 'job-updated': [DeliveryJob] }> {
  private readonly db: Db;
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
    this.db = opts.db;
    this.log = opts.logger.child({ component: 'outbox' });
    this.send = opts.send ?? sendOverNetwork;
    this.random = opts.random ?? Math.random;
    this.maxPollMs = opts.maxPollMs ?? 5000;
  }

  /** Resolves the routing and queues one delivery job per target, in one transaction. */
  /** Where results of a study received by this local AE title would go now (no job is created). */
  routing(req: Pick<EnqueueRequest, 'calledAeTitle' | 'callingAeTitle' | 'callingHost'>): Routing {
    const { settings } = this.opts;
    return resolveRouting(req, {
      localAeTitle: (ae) => settings.aeTitles.get(ae),
      source: (ae) => settings.sources.get(ae),
      destination: (n) => settings.destinations.get(n),
    });
  }

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
    const insert = this.db.prepare(`INSERT INTO jobs (kind, state, study_instance_uid, called_ae_title, parent_job_id, destination,
        payload_json, attempts, next_attempt_at, created_at, updated_at, history_json)
      VALUES (?, 'queued', ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`);
    const ids = this.db.transaction(() =>
      routing.targets.map((target) => {
        const payload: Payload = { target, files };
        const history: DeliveryHistoryEntry[] = [{ at: now, event: 'queued', message: describeTarget(target) }];
        return Number(
          insert.run(DELIVERY_KIND, req.studyInstanceUid, req.calledAeTitle, req.parentJobId ?? null, target.key, JSON.stringify(payload), now, now, now, JSON.stringify(history))
            .lastInsertRowid,
        );
      }),
    )();
    for (const s of routing.skipped) this.log.warn('route not used', { study: req.studyInstanceUid, route: s.key, reason: s.reason });
    if (routing.targets.length === 0) this.log.warn('results have no destination', { study: req.studyInstanceUid, calledAeTitle: req.calledAeTitle });
    const jobs = ids.map((id) => this.get(id)!);
    for (const j of jobs) this.log.info('delivery queued', { jobId: j.id, study: j.studyInstanceUid, destination: j.destination, instances: j.files.length });
    this.kick();
    return { jobs, skipped: routing.skipped };
  }

  get(id: number): DeliveryJob | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ? AND kind = ?').get(id, DELIVERY_KIND) as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  list(filter: { state?: DeliveryJobState; studyInstanceUid?: string; destination?: string } = {}): DeliveryJob[] {
    const where = ['kind = ?'];
    const args: unknown[] = [DELIVERY_KIND];
    if (filter.state) (where.push('state = ?'), args.push(filter.state));
    if (filter.studyInstanceUid) (where.push('study_instance_uid = ?'), args.push(filter.studyInstanceUid));
    if (filter.destination) (where.push('destination = ?'), args.push(filter.destination));
    const rows = this.db.prepare(`SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY id`).all(...args) as JobRow[];
    return rows.map(toJob);
  }

  /**
   * Sends a 'dead' or 'failed' job again from a fresh attempt count (instances already stored are not
   * sent again); a 'queued' job waiting for its backoff is brought forward to now.
   */
  retry(id: number): RetryResult {
    const job = this.get(id);
    if (!job) return { ok: false, reason: 'not-found', message: `no delivery job ${id}` };
    if (job.state !== 'dead' && job.state !== 'failed' && job.state !== 'queued') {
      return { ok: false, reason: 'not-retryable', message: `delivery job ${id} is ${job.state}; only dead, failed or queued jobs can be retried` };
    }
    const now = new Date().toISOString();
    const files = job.files.map((f): DeliveryFileState => (f.state === 'sent' ? f : { ...f, state: 'pending' }));
    const history = [...job.history, { at: now, event: 'retry', message: `manual retry from ${job.state}` }];
    const r = this.db
      .prepare(`UPDATE jobs SET state = 'queued', attempts = CASE WHEN state = 'queued' THEN attempts ELSE 0 END, next_attempt_at = ?,
                updated_at = ?, payload_json = ?, history_json = ? WHERE id = ? AND state = ?`)
      .run(now, now, JSON.stringify({ target: job.target, files } satisfies Payload), JSON.stringify(history), id, job.state);
    if (r.changes === 0) return { ok: false, reason: 'not-retryable', message: `delivery job ${id} changed state; try again` };
    this.log.info('delivery retry requested', { jobId: id, from: job.state });
    const updated = this.get(id)!;
    this.emit('job-updated', updated);
    this.kick();
    return { ok: true, job: updated };
  }

  /** Re-queues jobs a previous run left 'running' and starts the scheduler. */
  start(): void {
    if (this.running) return;
    const now = new Date().toISOString();
    const stale = this.db.prepare("SELECT * FROM jobs WHERE kind = ? AND state = 'running'").all(DELIVERY_KIND) as JobRow[];
    const requeue = this.db.prepare("UPDATE jobs SET state = 'queued', next_attempt_at = ?, updated_at = ?, history_json = ? WHERE id = ? AND state = 'running'");
    this.db.transaction(() => {
      for (const row of stale) {
        const history = [...toJob(row).history, { at: now, event: 'requeued', message: 'the node stopped during a send; sending again' }];
        requeue.run(now, now, JSON.stringify(history), row.id);
      }
    })();
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

  private tick(): void {
    this.timer = undefined;
    if (!this.running) return;
    try {
      const now = new Date().toISOString();
      const heads = this.db
        .prepare("SELECT destination, MIN(next_attempt_at) AS due FROM jobs WHERE kind = ? AND state = 'queued' GROUP BY destination")
        .all(DELIVERY_KIND) as { destination: string; due: string | null }[];
      let nextDue: number | undefined;
      for (const h of heads) {
        if (this.busy.has(h.destination) || this.isDisabled(h.destination)) continue;
        const due = h.due ?? now;
        if (due > now) {
          const t = Date.parse(due);
          nextDue = nextDue === undefined ? t : Math.min(nextDue, t);
          continue;
        }
        const row = this.db
          .prepare("SELECT * FROM jobs WHERE kind = ? AND state = 'queued' AND destination = ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY next_attempt_at, id LIMIT 1")
          .get(DELIVERY_KIND, h.destination, now) as JobRow | undefined;
        if (!row) continue;
        const claimed = this.db.prepare("UPDATE jobs SET state = 'running', updated_at = ? WHERE id = ? AND state = 'queued'").run(now, row.id);
        if (claimed.changes === 0) continue;
        this.busy.add(h.destination);
        const p = this.process(toJob({ ...row, state: 'running' })).finally(() => {
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
      this.log.error('delivery scheduler error', { error: (e as Error).message });
      this.timer = setTimeout(() => this.tick(), this.maxPollMs).unref();
    }
  }

  private isDisabled(destination: string): boolean {
    const d = this.opts.settings.destinations.get(destination);
    return d !== undefined && !d.enabled;
  }

  /** The target as configured now (an edited host or port applies to waiting jobs), else as recorded. */
  private currentTarget(job: DeliveryJob): { target: DeliveryTarget; authorization?: string } {
    if (job.target.origin !== 'destination') return { target: job.target };
    const d = this.opts.settings.destinations.get(job.destination);
    if (!d) return { target: job.target };
    const fallbackCalling = job.target.type === 'dimse' ? job.target.callingAeTitle : (job.calledAeTitle ?? '');
    const target = targetFromDestination(d, job.calledAeTitle ?? fallbackCalling);
    return { target, ...(d.type === 'dicomweb' && d.authorization ? { authorization: d.authorization } : {}) };
  }

  private async process(job: DeliveryJob): Promise<void> {
    const attempt = job.attempts + 1;
    const { target, authorization } = this.currentTarget(job);
    const toSend = job.files.filter((f) => f.state !== 'sent');
    const log = this.log.child({ jobId: job.id, study: job.studyInstanceUid, destination: job.destination });
    const started = Date.now();
    let outcome: AttemptOutcome;
    try {
      outcome = await this.send(
        target,
        toSend.map((f) => ({ path: this.absolute(f.path), sopInstanceUid: f.sopInstanceUid, sopClassUid: f.sopClassUid })),
        { signal: this.abort.signal, responseTimeoutSeconds: this.opts.delivery.responseTimeoutSeconds, ...(authorization ? { authorization } : {}) },
      );
    } catch (e) {
      outcome = { error: `sender failed: ${(e as Error).message}`, results: [] };
    }
    if (this.closed) return; // the store may be closed: the job stays 'running' and is re-queued at start

    const now = new Date();
    const at = now.toISOString();
    const byUid = new Map(outcome.results.map((r) => [r.sopInstanceUid, r]));
    const files = job.files.map((f): DeliveryFileState => {
      if (f.state === 'sent') return f;
      const r = byUid.get(f.sopInstanceUid);
      if (!r) return { ...f, state: 'failed', message: outcome.error ?? 'no outcome reported' };
      const { status, permanent } = r;
      return r.ok
        ? { path: f.path, sopInstanceUid: f.sopInstanceUid, sopClassUid: f.sopClassUid, state: 'sent', message: r.message, sentAt: at, ...(status !== undefined ? { status } : {}) }
        : { ...f, state: 'failed', message: r.message, ...(status !== undefined ? { status } : {}), ...(permanent ? { permanent } : {}) };
    });
    const sent = files.filter((f) => f.state === 'sent').length;
    const remaining = files.filter((f) => f.state !== 'sent');
    const sentNow = sent - (job.files.length - toSend.length);
    const firstFailure = remaining[0]?.message;
    const error = remaining.length ? (outcome.error ?? firstFailure ?? 'delivery failed') : null;

    let state: DeliveryJobState;
    let nextAttemptAt: string | null = null;
    let event: string;
    if (this.abort.signal.aborted && remaining.length) {
      // Interrupted by stop(): not the destination's fault, so not counted.
      state = 'queued';
      nextAttemptAt = at;
      event = 'interrupted';
    } else if (!remaining.length) {
      state = 'done';
      event = 'done';
    } else if (remaining.every((f) => f.permanent)) {
      state = 'failed';
      event = 'failed';
    } else if (attempt >= this.opts.delivery.maxAttempts) {
      state = 'dead';
      event = 'dead';
    } else {
      state = 'queued';
      nextAttemptAt = new Date(now.getTime() + backoffDelayMs(attempt, this.opts.delivery, this.random)).toISOString();
      event = 'retry-scheduled';
    }
    const attempts = event === 'interrupted' ? job.attempts : attempt;
    const history: DeliveryHistoryEntry[] = [
      ...job.history,
      {
        at,
        event: event === 'interrupted' ? 'interrupted' : 'attempt',
        attempt,
        sent: sentNow,
        failed: remaining.length,
        message: remaining.length ? (error ?? '') : `stored ${sentNow} instance(s) in ${Date.now() - started} ms`,
      },
    ];
    if (event === 'retry-scheduled') history.push({ at, event, message: `next attempt at ${nextAttemptAt}` });
    if (event === 'dead') history.push({ at, event, message: `gave up after ${attempt} attempts` });
    if (event === 'failed') history.push({ at, event, message: 'permanent failure; retry after fixing the cause' });
    try {
      this.db
        .prepare('UPDATE jobs SET state = ?, attempts = ?, next_attempt_at = ?, error = ?, payload_json = ?, result_json = ?, history_json = ?, updated_at = ? WHERE id = ?')
        .run(
          state,
          attempts,
          nextAttemptAt,
          error,
          JSON.stringify({ target: job.target, files } satisfies Payload),
          JSON.stringify({ sent, failed: remaining.length, total: files.length }),
          JSON.stringify(history),
          at,
          job.id,
        );
    } catch (e) {
      log.error('cannot record delivery outcome', { error: (e as Error).message });
      return;
    }
    const fields = { attempt, sent, failed: remaining.length, state };
    if (state === 'done') log.info('delivered', fields);
    else if (state === 'queued') log.warn('delivery attempt failed; will retry', { ...fields, error, nextAttemptAt });
    else log.error('delivery stopped', { ...fields, error });
    const updated = this.get(job.id);
    if (updated) this.emit('job-updated', updated);
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

function describeTarget(t: DeliveryTarget): string {
  return t.type === 'dimse' ? `C-STORE to ${t.aeTitle}@${t.host}:${t.port} as ${t.callingAeTitle}` : `STOW-RS to ${t.url}`;
}

function toJob(row: JobRow): DeliveryJob {
  const payload = PayloadSchema.parse(JSON.parse(row.payload_json ?? '{}'));
  const history = z.array(HistoryEntrySchema).catch([]).parse(JSON.parse(row.history_json || '[]'));
  return {
    id: row.id,
    kind: DELIVERY_KIND,
    state: row.state as DeliveryJobState,
    studyInstanceUid: row.study_instance_uid,
    calledAeTitle: row.called_ae_title,
    parentJobId: row.parent_job_id,
    destination: row.destination ?? payload.target.key,
    target: payload.target,
    files: payload.files,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    history,
  };
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

/**
 * Writes result objects durably (temp file, fsync, rename, directory fsync) to
 * <dataDir>/results/<StudyInstanceUID>/<SOPInstanceUID>.dcm and returns the entries for `enqueue`
 * (paths relative to dataDir). Writing the same SOP Instance UID again replaces the file.
 */
/** Result files: the node's user writes, its group (e.g. a backup agent) reads, nobody else. */
export const RESULT_FILE_MODE = 0o640;

export async function writeResultObjects(dataDir: string, studyInstanceUid: string, objects: ResultObject[]): Promise<OutboxFile[]> {
  if (!isValidUid(studyInstanceUid)) throw new Error(`invalid Study Instance UID ${JSON.stringify(studyInstanceUid)}`);
  const relDir = path.join('results', studyInstanceUid);
  const dir = path.join(dataDir, relDir);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const out: OutboxFile[] = [];
  for (const o of objects) {
    if (!isValidUid(o.sopInstanceUid) || !isValidUid(o.sopClassUid)) throw new Error(`invalid UID for result object ${JSON.stringify(o.sopInstanceUid)}`);
    const final = path.join(dir, `${o.sopInstanceUid}.dcm`);
    const tmp = `${final}.tmp-${process.pid}-${Date.now()}`;
    const fh = await open(tmp, 'w', RESULT_FILE_MODE);
    try {
      await fh.writeFile(o.data);
      await fh.sync();
    } catch (e) {
      await fh.close();
      await rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    await rename(tmp, final);
    out.push({ path: path.join(relDir, `${o.sopInstanceUid}.dcm`), sopInstanceUid: o.sopInstanceUid, sopClassUid: o.sopClassUid });
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
  return out;
}
