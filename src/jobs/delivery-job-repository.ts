/**
 * The delivery rows of the `jobs` table (kind 'delivery'): one job per (result batch, destination). The only
 * module besides JobStore with SQL on `jobs`; every statement is prepared once, here. The payload (target
 * and per-instance states) and the history are JSON whose shape belongs to the outbox
 * (src/deliver/delivery-job.ts); this module stores them as given.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/database';
import type { JobRow } from './job-store';

export const DELIVERY_KIND = 'delivery';

/**
 * The states of a delivery job (a subset of JobState; transitions in src/deliver/delivery-state.ts):
 * queued -> running -> done | queued (retry later) | failed | dead; failed/dead/queued -> queued (retry).
 */
export type DeliveryJobState =
  /** Waiting to be sent; `next_attempt_at` is the earliest time (now, or after a retry's backoff). */
  | 'queued'
  /** Claimed by the outbox, a send in flight; left so by a crash, it is re-queued at the next start. */
  | 'running'
  /** Every instance stored by the destination. Terminal. */
  | 'done'
  /** A permanent failure (e.g. STOW-RS 4xx, unreadable file): not retried until someone retries it. */
  | 'failed'
  /** maxAttempts attempts failed: not retried until someone retries it. */
  | 'dead'
  /** A re-analysis replaced the results before they went out (JobStore.supersedeEarlierAnalyses). Terminal. */
  | 'superseded';

export interface NewDeliveryRow {
  studyInstanceUid: string;
  calledAeTitle: string;
  parentJobId: number | null;
  destination: string;
  payload: unknown;
  history: unknown[];
}

/** The columns one transition writes (see src/deliver/delivery-state.ts). */
export interface DeliveryRowUpdate {
  state: DeliveryJobState;
  attempts: number;
  nextAttemptAt: string | null;
  error: string | null;
  payload: unknown;
  /** Leaves result_json as it is when undefined. */
  result?: unknown;
  history: unknown[];
}

export interface DeliveryRowFilter {
  state?: DeliveryJobState;
  studyInstanceUid?: string;
  destination?: string;
}

export class DeliveryJobRepository {
  private readonly insertRow: Statement;
  private readonly byId: Statement;
  private readonly filtered: Statement;
  private readonly heads: Statement;
  private readonly dueOf: Statement;
  private readonly claimRow: Statement;
  private readonly requeueRows: Statement;
  private readonly updateRow: Statement;
  private readonly insertAllTx: (rows: NewDeliveryRow[], at: string) => number[];

  constructor(db: Db) {
    this.insertRow = db.prepare(
      `INSERT INTO jobs (kind, state, study_instance_uid, called_ae_title, parent_job_id, destination,
                         payload_json, attempts, next_attempt_at, created_at, updated_at, history_json)
       VALUES ('${DELIVERY_KIND}', 'queued', @study, @calledAeTitle, @parentJobId, @destination, @payload, 0, @at, @at, @at, @history)`,
    );
    this.byId = db.prepare(`SELECT * FROM jobs WHERE id = ? AND kind = '${DELIVERY_KIND}'`);
    this.filtered = db.prepare(
      `SELECT * FROM jobs WHERE kind = '${DELIVERY_KIND}'
         AND (@state IS NULL OR state = @state)
         AND (@study IS NULL OR study_instance_uid = @study)
         AND (@destination IS NULL OR destination = @destination)
       ORDER BY id`,
    );
    this.heads = db.prepare(
      `SELECT destination, MIN(next_attempt_at) AS due FROM jobs WHERE kind = '${DELIVERY_KIND}' AND state = 'queued' GROUP BY destination`,
    );
    this.dueOf = db.prepare(
      `SELECT * FROM jobs WHERE kind = '${DELIVERY_KIND}' AND state = 'queued' AND destination = ?
         AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
       ORDER BY next_attempt_at, id LIMIT 1`,
    );
    this.claimRow = db.prepare(`UPDATE jobs SET state = 'running', updated_at = ? WHERE id = ? AND kind = '${DELIVERY_KIND}' AND state = 'queued'`);
    this.requeueRows = db.prepare(
      `UPDATE jobs SET state = 'queued', next_attempt_at = @at, updated_at = @at,
         history_json = json_insert(history_json, '$[#]', json_object('at', @at, 'event', 'requeued', 'message', @message))
       WHERE kind = '${DELIVERY_KIND}' AND state = 'running' RETURNING id`,
    );
    this.updateRow = db.prepare(
      `UPDATE jobs SET state = @state, attempts = @attempts, next_attempt_at = @nextAttemptAt, error = @error,
         payload_json = @payload, result_json = coalesce(@result, result_json), history_json = @history, updated_at = @at
       WHERE id = @id AND kind = '${DELIVERY_KIND}' AND state = @from`,
    );
    this.insertAllTx = db.transaction((rows: NewDeliveryRow[], at: string) =>
      rows.map((r) =>
        Number(
          this.insertRow.run({
            study: r.studyInstanceUid,
            calledAeTitle: r.calledAeTitle,
            parentJobId: r.parentJobId,
            destination: r.destination,
            payload: JSON.stringify(r.payload),
            history: JSON.stringify(r.history),
            at,
          }).lastInsertRowid,
        ),
      ),
    );
  }

  /** Inserts queued jobs, due at `at`, in one transaction; returns their ids in order. */
  insertAll(rows: NewDeliveryRow[], at: string): number[] {
    return this.insertAllTx(rows, at);
  }

  get(id: number): JobRow | undefined {
    return this.byId.get(id) as JobRow | undefined;
  }

  list(filter: DeliveryRowFilter = {}): JobRow[] {
    return this.filtered.all({ state: filter.state ?? null, study: filter.studyInstanceUid ?? null, destination: filter.destination ?? null }) as JobRow[];
  }

  /** Each destination with queued jobs, and the earliest time one of them is due (null = now). */
  queuedDestinations(): { destination: string; due: string | null }[] {
    return this.heads.all() as { destination: string; due: string | null }[];
  }

  /** The queued job of `destination` that is due first at `at`, if any. */
  nextDue(destination: string, at: string): JobRow | undefined {
    return this.dueOf.get(destination, at) as JobRow | undefined;
  }

  /** queued -> running; false when another claimed it or its state changed. */
  claim(id: number, at: string): boolean {
    return this.claimRow.run(at, id).changes > 0;
  }

  /** running -> queued for every delivery job (at startup: a previous run stopped during its sends). */
  requeueRunning(at: string, message: string): number[] {
    return (this.requeueRows.all({ at, message }) as { id: number }[]).map((r) => r.id);
  }

  /** Writes a transition of a job that is in state `from`; false when its state changed meanwhile. */
  update(id: number, from: DeliveryJobState, u: DeliveryRowUpdate, at: string): boolean {
    return (
      this.updateRow.run({
        id,
        from,
        at,
        state: u.state,
        attempts: u.attempts,
        nextAttemptAt: u.nextAttemptAt,
        error: u.error,
        payload: JSON.stringify(u.payload),
        result: u.result === undefined ? null : JSON.stringify(u.result),
        history: JSON.stringify(u.history),
      }).changes > 0
    );
  }
}
