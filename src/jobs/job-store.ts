/**
 * Typed access to the `jobs` table, shared by every kind of job (analysis, delivery, ...).
 *
 * States: queued -> running -> done | failed | dead; failed/dead -> queued (retry); a failed job with
 * next_attempt_at is claimed again once that time has passed; superseded is terminal (a re-analysis
 * replaced the job, see docs/study-completion.md). Every transition appends an entry to history_json in
 * the same UPDATE, so the history can never disagree with the state. Delivery jobs are written by
 * DeliveryJobRepository (./delivery-job-repository.ts), which owns their payload and history shape; this
 * store reads them like any job and marks them superseded with their analysis.
 */
import { EventEmitter } from 'node:events';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/database';

export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'dead', 'superseded'] as const;
/**
 * - queued: waiting to be claimed (from next_attempt_at, when set);
 * - running: claimed by its worker; left so by a crash, it is re-queued at startup (requeueInterrupted);
 * - done: finished with a result; terminal;
 * - failed: a retryable failure; claimed again at next_attempt_at when set, else waits for a retry;
 * - dead: not retryable or out of attempts; waits for a retry by hand;
 * - superseded: a re-analysis replaced it (superseded_by); terminal.
 */
export type JobState = (typeof JOB_STATES)[number];

/** Kinds known today; the store accepts any lowercase kind so other stages can add their own. */
export type JobKind = 'analysis' | 'delivery' | (string & {});
export const ANALYSIS_JOB_KIND = 'analysis';

/** States from which a job may be retried (by hand or by its owner's retry policy). */
export const RETRYABLE_STATES: readonly JobState[] = ['failed', 'dead'];

export interface JobHistoryEntry {
  at: string;
  from: JobState | null;
  to: JobState;
  note?: string;
  error?: string;
}

export interface Job {
  id: number;
  kind: JobKind;
  state: JobState;
  studyInstanceUid: string;
  calledAeTitle: string | null;
  generation: number | null;
  parentJobId: number | null;
  destination: string | null;
  payload: unknown;
  result: unknown;
  error: string | null;
  attempts: number;
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** Id of the analysis job that replaced this one (re-analysis after late instances), else null. */
  supersededBy: number | null;
  history: JobHistoryEntry[];
}

export interface NewJob {
  kind: JobKind;
  studyInstanceUid: string;
  calledAeTitle?: string | null;
  generation?: number | null;
  parentJobId?: number | null;
  destination?: string | null;
  payload?: unknown;
  /** Earliest time the job may be claimed (ISO); default now. */
  nextAttemptAt?: string | null;
  note?: string;
}

export interface NewAnalysisJob {
  studyInstanceUid: string;
  calledAeTitle: string;
  generation: number;
  parentJobId?: number | null;
  payload?: unknown;
  note?: string;
}

export interface JobFilter {
  state?: JobState;
  kind?: JobKind;
  study?: string;
  calledAeTitle?: string;
  limit?: number;
  offset?: number;
}

export type RetryOutcome = { ok: true; job: Job } | { ok: false; reason: 'not-found' } | { ok: false; reason: 'not-retryable'; state: JobState };

/** A row of the `jobs` table as SQLite returns it (shared by every module that reads the table). */
export interface JobRow {
  id: number;
  kind: string;
  state: string;
  study_instance_uid: string;
  called_ae_title: string | null;
  generation: number | null;
  parent_job_id: number | null;
  destination: string | null;
  payload_json: string | null;
  result_json: string | null;
  error: string | null;
  attempts: number;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
  history_json: string;
  superseded_by: number | null;
}

/** Appends one history entry; `state` in the expression is the row's state before the UPDATE. */
const APPEND_HISTORY = `history_json = json_insert(history_json, '$[#]',
  json_patch(json_object('at', @at, 'from', state, 'to', @to),
             json_object('note', @note, 'error', @historyError)))`;

/** Emitted ('finished') after complete() or fail() changed a running job; observers never change the outcome. */
export interface JobFinishedEvent {
  job: Job;
  outcome: 'done' | 'failed';
}

export class JobStore extends EventEmitter<{ finished: [JobFinishedEvent] }> {
  private readonly now: () => Date;

  /** Each statement is prepared once, on first use (list and count have one per filter combination, at most 16). */
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Db, opts: { now?: () => Date } = {}) {
    super();
    this.now = opts.now ?? (() => new Date());
  }

  private finished(job: Job | undefined, outcome: JobFinishedEvent['outcome']): Job | undefined {
    if (job) {
      try {
        this.emit('finished', { job, outcome });
      } catch {
        /* an observer's failure is its own */
      }
    }
    return job;
  }

  private statement(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Inserts a queued job of any kind. */
  create(input: NewJob): Job {
    if (!/^[a-z][a-z0-9-]*$/.test(input.kind)) throw new Error(`invalid job kind ${JSON.stringify(input.kind)}`);
    const at = this.stamp();
    const history: JobHistoryEntry[] = [{ at, from: null, to: 'queued', ...(input.note ? { note: input.note } : {}) }];
    const r = this
      .statement(
        `INSERT INTO jobs (kind, state, study_instance_uid, called_ae_title, generation, parent_job_id, destination,
                           payload_json, next_attempt_at, created_at, updated_at, history_json)
         VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        input.kind,
        input.studyInstanceUid,
        input.calledAeTitle ?? null,
        input.generation ?? null,
        input.parentJobId ?? null,
        input.destination ?? null,
        input.payload === undefined ? null : JSON.stringify(input.payload),
        input.nextAttemptAt ?? null,
        at,
        at,
        JSON.stringify(history),
      );
    return this.get(Number(r.lastInsertRowid))!;
  }

  /**
   * Inserts the analysis job of one study generation. Throws a SQLite constraint error when that
   * generation already has one (unique index jobs_one_analysis_per_generation).
   */
  createAnalysisJob(input: NewAnalysisJob): Job {
    return this.create({ ...input, kind: ANALYSIS_JOB_KIND });
  }

  /** The analysis job of one study generation, if any. */
  findAnalysisJob(studyInstanceUid: string, calledAeTitle: string, generation: number): Job | undefined {
    const row = this
      .statement(`SELECT * FROM jobs WHERE kind = 'analysis' AND study_instance_uid = ? AND called_ae_title = ? AND generation = ?`)
      .get(studyInstanceUid, calledAeTitle, generation) as JobRow | undefined;
    return row && toJob(row);
  }

  /** The newest analysis job of an earlier generation than `generation` (the parent of a re-analysis). */
  findPreviousAnalysisJob(studyInstanceUid: string, calledAeTitle: string, generation: number): Job | undefined {
    const row = this
      .statement(
        `SELECT * FROM jobs WHERE kind = 'analysis' AND study_instance_uid = ? AND called_ae_title = ? AND generation < ?
         ORDER BY generation DESC LIMIT 1`,
      )
      .get(studyInstanceUid, calledAeTitle, generation) as JobRow | undefined;
    return row && toJob(row);
  }

  get(id: number): Job | undefined {
    const row = this.statement('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  list(filter: JobFilter = {}): Job[] {
    const { where, params } = whereOf(filter);
    const rows = this
      .statement(`SELECT * FROM jobs ${where} ORDER BY id DESC LIMIT ? OFFSET ?`)
      .all(...params, filter.limit ?? 100, filter.offset ?? 0) as JobRow[];
    return rows.map(toJob);
  }

  count(filter: JobFilter = {}): number {
    const { where, params } = whereOf(filter);
    return (this.statement(`SELECT count(*) AS n FROM jobs ${where}`).get(...params) as { n: number }).n;
  }

  /** How many jobs there are of each kind in each state (for metrics). */
  countByKindAndState(): { kind: string; state: string; n: number }[] {
    return this.statement('SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state').all() as { kind: string; state: string; n: number }[];
  }

  /**
   * Atomically moves the oldest claimable job of `kind` to running and returns it: a queued job whose
   * next_attempt_at (if any) has passed, or a failed job whose scheduled retry time has passed.
   */
  claimNext(kind: JobKind): Job | undefined {
    const at = this.stamp();
    const row = this
      .statement(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = @at, next_attempt_at = NULL, ${APPEND_HISTORY}
         WHERE id = (SELECT id FROM jobs
                     WHERE kind = @kind
                       AND ((state = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= @at))
                         OR (state = 'failed' AND next_attempt_at IS NOT NULL AND next_attempt_at <= @at))
                     ORDER BY coalesce(next_attempt_at, created_at), id LIMIT 1)
         RETURNING *`,
      )
      .get({ at, kind, to: 'running', note: null, historyError: null }) as JobRow | undefined;
    return row && toJob(row);
  }

  /**
   * Marks a running job done with its result. A job superseded while it ran keeps its result but ends
   * in state superseded. Returns undefined when the job is not running (e.g. it was requeued).
   */
  complete(id: number, result: unknown): Job | undefined {
    const at = this.stamp();
    const r = this
      .statement(
        `UPDATE jobs SET state = @to, result_json = @result, error = NULL, updated_at = @at, ${APPEND_HISTORY}
         WHERE id = @id AND state = 'running'`,
      )
      .run({ id, at, to: this.endState(id, 'done'), result: JSON.stringify(result ?? null), note: null, historyError: null });
    return r.changes ? this.finished(this.get(id), 'done') : undefined;
  }

  /**
   * Records a failure of a running job. retryable: state failed (claimed again at `retryAt` when given,
   * otherwise waits for a manual retry); not retryable: state dead. `maxAttempts` turns a retryable
   * failure into dead once the job has been attempted that many times.
   */
  fail(id: number, error: string, retryable: boolean, opts: { retryAt?: Date; maxAttempts?: number } = {}): Job | undefined {
    const job = this.get(id);
    if (!job || job.state !== 'running') return undefined;
    const exhausted = opts.maxAttempts !== undefined && job.attempts >= opts.maxAttempts;
    const to: JobState = this.endState(id, retryable && !exhausted ? 'failed' : 'dead');
    const at = this.stamp();
    const nextAttemptAt = to === 'failed' && opts.retryAt ? opts.retryAt.toISOString() : null;
    this
      .statement(
        `UPDATE jobs SET state = @to, error = @error, next_attempt_at = @next, updated_at = @at, ${APPEND_HISTORY}
         WHERE id = @id AND state = 'running'`,
      )
      .run({ id, at, to, error, next: nextAttemptAt, note: exhausted ? `gave up after ${job.attempts} attempts` : null, historyError: error });
    return this.finished(this.get(id), 'failed');
  }

  /** failed/dead -> queued (manual retry). Attempts are kept; the history says who asked. */
  retry(id: number, note = 'retry requested'): RetryOutcome {
    const job = this.get(id);
    if (!job) return { ok: false, reason: 'not-found' };
    if (!RETRYABLE_STATES.includes(job.state)) return { ok: false, reason: 'not-retryable', state: job.state };
    const at = this.stamp();
    const r = this
      .statement(
        `UPDATE jobs SET state = 'queued', next_attempt_at = NULL, updated_at = @at, ${APPEND_HISTORY}
         WHERE id = @id AND state IN ('failed', 'dead')`,
      )
      .run({ id, at, to: 'queued', note, historyError: null });
    if (!r.changes) return { ok: false, reason: 'not-retryable', state: this.get(id)!.state };
    return { ok: true, job: this.get(id)! };
  }

  /**
   * At startup: jobs left running by a crash go back to queued (or to superseded when they were replaced
   * meanwhile). Returns the ids touched.
   */
  requeueInterrupted(kind = 'analysis'): number[] {
    const at = this.stamp();
    const rows = this
      .statement(
        `UPDATE jobs SET state = CASE WHEN superseded_by IS NULL THEN 'queued' ELSE 'superseded' END,
                         updated_at = @at,
                         history_json = json_insert(history_json, '$[#]', json_object('at', @at, 'from', state,
                           'to', CASE WHEN superseded_by IS NULL THEN 'queued' ELSE 'superseded' END,
                           'note', 'interrupted by a restart'))
         WHERE state = 'running' AND kind = @kind RETURNING id`,
      )
      .all({ at, kind }) as { id: number }[];
    return rows.map((r) => r.id);
  }

  /**
   * Marks earlier analysis jobs of a study (generation < `generation`, not yet superseded) as replaced by
   * `byJobId`, together with their not-yet-finished child jobs (e.g. pending deliveries of the old
   * results). Running jobs keep running and end in superseded when they finish. Returns the ids touched.
   * Call inside the transaction that creates the replacing job.
   */
  supersedeEarlierAnalyses(studyInstanceUid: string, calledAeTitle: string, generation: number, byJobId: number): number[] {
    const at = this.stamp();
    const note = `superseded by job ${byJobId}`;
    const olds = this
      .statement(
        `SELECT id FROM jobs WHERE kind = 'analysis' AND study_instance_uid = ? AND called_ae_title = ? AND generation < ?
           AND superseded_by IS NULL`,
      )
      .all(studyInstanceUid, calledAeTitle, generation) as { id: number }[];
    const touched: number[] = [];
    const mark = this.statement(
      `UPDATE jobs SET superseded_by = @by, updated_at = @at,
         state = CASE WHEN state = 'running' THEN state ELSE 'superseded' END,
         history_json = CASE WHEN state = 'running' THEN history_json
           ELSE json_insert(history_json, '$[#]', json_object('at', @at, 'from', state, 'to', 'superseded', 'note', @note)) END
       WHERE id = @id`,
    );
    const children = this.statement(
      `SELECT id FROM jobs WHERE parent_job_id = ? AND kind <> 'analysis' AND state IN ('queued', 'failed', 'dead', 'running')
         AND superseded_by IS NULL`,
    );
    for (const { id } of olds) {
      mark.run({ id, by: byJobId, at, note });
      touched.push(id);
      for (const c of children.all(id) as { id: number }[]) {
        mark.run({ id: c.id, by: byJobId, at, note });
        touched.push(c.id);
      }
    }
    return touched;
  }

  private endState(id: number, normal: JobState): JobState {
    const row = this.statement('SELECT superseded_by FROM jobs WHERE id = ?').get(id) as { superseded_by: number | null } | undefined;
    return row && row.superseded_by !== null ? 'superseded' : normal;
  }

  private stamp(): string {
    return this.now().toISOString();
  }
}

function whereOf(filter: JobFilter): { where: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.state) (clauses.push('state = ?'), params.push(filter.state));
  if (filter.kind) (clauses.push('kind = ?'), params.push(filter.kind));
  if (filter.study) (clauses.push('study_instance_uid = ?'), params.push(filter.study));
  if (filter.calledAeTitle) (clauses.push('called_ae_title = ?'), params.push(filter.calledAeTitle));
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

function toJob(r: JobRow): Job {
  return {
    id: r.id,
    kind: r.kind,
    state: r.state as JobState,
    studyInstanceUid: r.study_instance_uid,
    calledAeTitle: r.called_ae_title,
    generation: r.generation,
    parentJobId: r.parent_job_id,
    destination: r.destination,
    payload: r.payload_json === null ? null : JSON.parse(r.payload_json),
    result: r.result_json === null ? null : JSON.parse(r.result_json),
    error: r.error,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    supersededBy: r.superseded_by,
    history: JSON.parse(r.history_json) as JobHistoryEntry[],
  };
}

export function isJobState(s: unknown): s is JobState {
  return typeof s === 'string' && (JOB_STATES as readonly string[]).includes(s);
}
