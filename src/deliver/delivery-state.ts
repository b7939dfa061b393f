/**
 * The transitions of a delivery job, as pure functions of the job, what happened, the policy and the time:
 * no timers, no SQLite. The outbox applies them and persists the result (DeliveryJobRepository.update).
 *
 * After an attempt (nextDeliveryState):
 * - every instance stored           -> done
 * - interrupted by the outbox's stop -> queued, due now, not counted as an attempt
 * - every failure permanent          -> failed (waits for a retry by hand)
 * - attempts reached maxAttempts     -> dead (waits for a retry by hand)
 * - otherwise                        -> queued, due after the backoff (src/deliver/backoff.ts)
 * Instances stored by an earlier attempt are kept as sent and not sent again.
 * By hand (retryDeliveryState): dead or failed -> queued with a fresh attempt count; queued -> due now.
 */
import type { DeliveryRowUpdate } from '../jobs/delivery-job-repository';
import { backoffDelayMs, type BackoffPolicy } from './backoff';
import type { InstanceOutcome } from './cstore-scu';
import type { DeliveryFileState, DeliveryHistoryEntry, DeliveryJob, DeliveryJobState, DeliveryPayload } from './delivery-job';

export interface DeliveryPolicy extends BackoffPolicy {
  maxAttempts: number;
}

/** What one attempt to send a job's pending instances came to. */
export interface AttemptReport {
  results: InstanceOutcome[];
  /** A batch-level problem (refused connection, timeout), if any. */
  error?: string;
  /** The send was cut short by the outbox stopping: not the destination's fault, so not counted. */
  interrupted: boolean;
  elapsedMs: number;
}

/** The columns a transition writes, with the outbox's payload and history shapes. */
export interface DeliveryUpdate extends DeliveryRowUpdate {
  payload: DeliveryPayload;
  history: DeliveryHistoryEntry[];
}

export interface DeliveryTransition extends DeliveryUpdate {
  /** The attempt this transition closes (1-based). */
  attempt: number;
  files: DeliveryFileState[];
  result: { sent: number; failed: number; total: number };
}

type JobView = Pick<DeliveryJob, 'attempts' | 'files' | 'history' | 'target'>;

/** The instances an attempt sends: all but those already stored. */
export function pendingFiles(job: Pick<DeliveryJob, 'files'>): DeliveryFileState[] {
  return job.files.filter((f) => f.state !== 'sent');
}

/** The state after one attempt of `job` (which is running). `random` is the backoff's jitter source. */
export function nextDeliveryState(job: JobView, outcome: AttemptReport, policy: DeliveryPolicy, now: Date, random: () => number = Math.random): DeliveryTransition {
  const attempt = job.attempts + 1;
  const at = now.toISOString();
  const byUid = new Map(outcome.results.map((r) => [r.sopInstanceUid, r]));
  const files = job.files.map((f): DeliveryFileState => (f.state === 'sent' ? f : fileAfter(f, byUid.get(f.sopInstanceUid), outcome.error, at)));
  const sent = files.filter((f) => f.state === 'sent').length;
  const remaining = files.filter((f) => f.state !== 'sent');
  const sentNow = sent - job.files.filter((f) => f.state === 'sent').length;
  const error = remaining.length ? (outcome.error ?? remaining[0]?.message ?? 'delivery failed') : null;

  let state: DeliveryJobState;
  let nextAttemptAt: string | null = null;
  let closing: DeliveryHistoryEntry | undefined;
  if (outcome.interrupted && remaining.length) {
    state = 'queued';
    nextAttemptAt = at;
  } else if (!remaining.length) {
    state = 'done';
  } else if (remaining.every((f) => f.permanent)) {
    state = 'failed';
    closing = { at, event: 'failed', message: 'permanent failure; retry after fixing the cause' };
  } else if (attempt >= policy.maxAttempts) {
    state = 'dead';
    closing = { at, event: 'dead', message: `gave up after ${attempt} attempts` };
  } else {
    state = 'queued';
    nextAttemptAt = new Date(now.getTime() + backoffDelayMs(attempt, policy, random)).toISOString();
    closing = { at, event: 'retry-scheduled', message: `next attempt at ${nextAttemptAt}` };
  }
  const interrupted = outcome.interrupted && remaining.length > 0;
  const entry: DeliveryHistoryEntry = {
    at,
    event: interrupted ? 'interrupted' : 'attempt',
    attempt,
    sent: sentNow,
    failed: remaining.length,
    message: remaining.length ? (error ?? '') : `stored ${sentNow} instance(s) in ${outcome.elapsedMs} ms`,
  };
  return {
    attempt,
    state,
    attempts: interrupted ? job.attempts : attempt,
    nextAttemptAt,
    error,
    files,
    payload: { target: job.target, files },
    result: { sent, failed: remaining.length, total: files.length },
    history: [...job.history, entry, ...(closing ? [closing] : [])],
  };
}

/** An instance after an attempt; status, message and permanence are this attempt's, never an earlier one's. */
function fileAfter(f: DeliveryFileState, r: InstanceOutcome | undefined, batchError: string | undefined, at: string): DeliveryFileState {
  const { path, sopInstanceUid, sopClassUid } = f;
  if (!r) return { path, sopInstanceUid, sopClassUid, state: 'failed', message: batchError ?? 'no outcome reported' };
  const status = r.status !== undefined ? { status: r.status } : {};
  return r.ok
    ? { path, sopInstanceUid, sopClassUid, state: 'sent', message: r.message, sentAt: at, ...status }
    : { path, sopInstanceUid, sopClassUid, state: 'failed', message: r.message, ...status, ...(r.permanent ? { permanent: true } : {}) };
}

export const RETRYABLE_DELIVERY_STATES: readonly DeliveryJobState[] = ['dead', 'failed', 'queued'];

export type DeliveryRetry = { ok: true; update: DeliveryUpdate } | { ok: false; message: string };

/**
 * A retry by hand: a dead or failed job is queued again from a fresh attempt count (instances already
 * stored are not sent again); a queued job waiting for its backoff is brought forward to now.
 */
export function retryDeliveryState(job: JobView & Pick<DeliveryJob, 'id' | 'state' | 'error'>, now: Date): DeliveryRetry {
  if (!RETRYABLE_DELIVERY_STATES.includes(job.state)) {
    return { ok: false, message: `delivery job ${job.id} is ${job.state}; only dead, failed or queued jobs can be retried` };
  }
  const at = now.toISOString();
  const files = job.files.map((f): DeliveryFileState => (f.state === 'sent' ? f : { ...f, state: 'pending' }));
  return {
    ok: true,
    update: {
      state: 'queued',
      attempts: job.state === 'queued' ? job.attempts : 0,
      nextAttemptAt: at,
      error: job.error,
      payload: { target: job.target, files },
      history: [...job.history, { at, event: 'retry', message: `manual retry from ${job.state}` }],
    },
  };
}
