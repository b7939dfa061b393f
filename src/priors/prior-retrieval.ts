/**
 * PriorRetrieval: when a study completes, finds and fetches the patient's other MR study from the PACS
 * sources configured for its local AE title, so that the progression analysis (paper 001) has the pre- and
 * post-treatment study. Per source, in the order of `from`: query (C-FIND or QIDO-RS), choose
 * (choose-prior-study: same patient only), retrieve (C-MOVE, C-GET or WADO-RS) into the durable store.
 * Unreachable peers are retried with delivery's backoff; the whole retrieval has a deadline after which it
 * is aborted. The outcome is typed and its message reads as a "not assessable" reason.
 *
 * The progression analysis awaits `whenReady(studyUid, deadlineMs)`. The assembler asks
 * `isPriorStudy(studyUid)` so that a study that arrives because we asked for it (C-MOVE arrivals come
 * through the ordinary DIMSE listener) starts no analysis of its own.
 *
 * Events (for /metrics and the audit trail): 'query' (PriorQueryEvent) after each query attempt and
 * 'finished' (PriorFinishedEvent) once per retrieval.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../logging/logger';
import { backoffDelayMs } from '../deliver/backoff';
import type { InstanceStore } from '../store/instance-store';
import { choosePriorStudy } from './choose-prior-study';
import type { DimseTarget } from './dimse-association';
import { findPriorStudiesDimse, findPriorStudiesQido, type FindOutcome } from './find-prior-studies';
import { retrieveByCGet, retrieveByCMove, retrieveByWado, type RetrieveOutcome } from './retrieve-prior-study';
import {
  priorFailure,
  type CurrentStudy,
  type PriorFailureReason,
  type PriorLimits,
  type PriorOutcome,
  type PriorsConfig,
  type PriorSource,
  type RetrievedPrior,
  type StudyMatch,
} from './prior-types';
import { errorMessage } from '../util/error-message';

export interface PriorQueryEvent {
  source: string;
  sourceType: PriorSource['type'];
  attempt: number;
  result: 'ok' | PriorFailureReason;
}

export interface PriorFinishedEvent {
  studyInstanceUid: string;
  outcome: PriorOutcome;
  durationMs: number;
}

export interface PriorRetrievalDeps {
  store: InstanceStore;
  /** A destination by name as a priors source, or undefined when there is none of that name. */
  resolveSource: (name: string) => PriorSource | undefined;
  /** Read at each retrieval (config.delivery's limits). */
  limits: () => PriorLimits;
  logger?: Logger;
  /** Injectable for tests. */
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface StartOptions {
  /** Abort the retrieval after this many ms (default 10 minutes). */
  deadlineMs?: number;
}

interface Running {
  promise: Promise<PriorOutcome>;
  /** Epoch ms at which the retrieval is aborted. */
  deadlineAt: number;
  controller: AbortController;
  outcome?: PriorOutcome;
}

export declare interface PriorRetrieval {
  on(event: 'query', listener: (e: PriorQueryEvent) => void): this;
  on(event: 'finished', listener: (e: PriorFinishedEvent) => void): this;
}

/** Keeps finished outcomes for this many studies (whenReady after the retrieval ended still answers). */
const MAX_REMEMBERED = 1000;

export class PriorRetrieval extends EventEmitter {
  private readonly running = new Map<string, Running>();
  /** Prior study UID -> the current study it was fetched for. */
  private readonly priors = new Map<string, string>();
  private stopped = false;

  constructor(private readonly deps: PriorRetrievalDeps) {
    super();
  }

  /**
   * Starts (or joins) the retrieval of `current`'s prior; resolves with the outcome, never rejects.
   * Call it when the study completes, in parallel with its analysis.
   */
  start(current: CurrentStudy, cfg: PriorsConfig, opts: StartOptions = {}): Promise<PriorOutcome> {
    const existing = this.running.get(current.StudyInstanceUID);
    if (existing && !existing.outcome) return existing.promise;
    const controller = new AbortController();
    const deadlineMs = opts.deadlineMs ?? 600_000;
    const t0 = Date.now();
    const timer = setTimeout(() => controller.abort(new Error('deadline')), deadlineMs);
    timer.unref();
    const entry: Running = { controller, deadlineAt: t0 + deadlineMs, promise: Promise.resolve(undefined as never) };
    entry.promise = this.run(current, cfg, controller.signal, deadlineMs)
      .catch((e): PriorOutcome => priorFailure('retrieval-failed', `the prior study could not be fetched (internal error: ${errorMessage(e)})`))
      .then((outcome) => {
        clearTimeout(timer);
        entry.outcome = outcome;
        this.emitSafely('finished', { studyInstanceUid: current.StudyInstanceUID, outcome, durationMs: Date.now() - t0 } satisfies PriorFinishedEvent);
        this.deps.logger?.info('prior retrieval finished', {
          studyInstanceUid: current.StudyInstanceUID,
          ok: outcome.ok,
          ...(outcome.ok ? { priorStudyInstanceUid: outcome.study.studyInstanceUid, method: outcome.study.method, instances: outcome.study.sopInstanceUids.length } : { reason: outcome.reason }),
        });
        return outcome;
      });
    this.running.set(current.StudyInstanceUID, entry);
    this.forgetOld();
    return entry.promise;
  }

  /**
   * The outcome for `studyInstanceUid` once its retrieval ends, or a 'timeout' outcome after `deadlineMs`
   * (the retrieval goes on; a later call may still get its result). A study for which no retrieval was
   * started gets 'not-configured' at once.
   */
  whenReady(studyInstanceUid: string, deadlineMs: number): Promise<PriorOutcome> {
    const r = this.running.get(studyInstanceUid);
    if (!r) return Promise.resolve(priorFailure('not-configured', 'no prior-study retrieval from a PACS was started for this study'));
    if (r.outcome) return Promise.resolve(r.outcome);
    return new Promise<PriorOutcome>((resolve) => {
      const t = setTimeout(
        () => resolve(priorFailure('timeout', `the prior study was not fetched from the PACS within ${Math.round(deadlineMs / 1000)} s`, true)),
        Math.max(0, deadlineMs),
      );
      t.unref();
      void r.promise.then((o) => {
        clearTimeout(t);
        resolve(o);
      });
    });
  }

  /** True when the study was (or is being) fetched as another study's prior: it starts no analysis itself. */
  isPriorStudy(studyInstanceUid: string): boolean {
    return this.priors.has(studyInstanceUid);
  }

  /** True while `priorStudyInstanceUid` is being fetched (its instances may be in the store only in part). */
  isRetrieving(priorStudyInstanceUid: string): boolean {
    const current = this.priors.get(priorStudyInstanceUid);
    const r = current === undefined ? undefined : this.running.get(current);
    return !!r && !r.outcome;
  }

  /** Milliseconds left until the deadline of `studyInstanceUid`'s retrieval (0 when none runs). */
  remainingMs(studyInstanceUid: string): number {
    const r = this.running.get(studyInstanceUid);
    return r && !r.outcome ? Math.max(0, r.deadlineAt - Date.now()) : 0;
  }

  /** True when a retrieval was started for `studyInstanceUid` (whenReady then waits for its outcome). */
  hasRetrieval(studyInstanceUid: string): boolean {
    return this.running.has(studyInstanceUid);
  }

  /** Aborts every retrieval in progress (node stopping). */
  stop(): void {
    this.stopped = true;
    for (const r of this.running.values()) r.controller.abort(new Error('stopping'));
  }

  private async run(current: CurrentStudy, cfg: PriorsConfig, signal: AbortSignal, deadlineMs: number): Promise<PriorOutcome> {
    if (this.stopped) return priorFailure('retrieval-failed', 'the node is stopping');
    if (!current.PatientID?.trim()) return priorFailure('no-match', 'the study has no PatientID, so its other studies cannot be looked up on the PACS');
    if (!cfg.from.length) return priorFailure('not-configured', 'no PACS is configured to fetch the patient\'s other study from');
    const failures: { source: string; outcome: PriorOutcome & { ok: false } }[] = [];
    for (const name of cfg.from) {
      const source = this.deps.resolveSource(name);
      if (!source) {
        failures.push({ source: name, outcome: priorFailure('not-configured', `the priors source "${name}" is not a configured destination`) });
        continue;
      }
      const o = await this.fromSource(source, current, cfg, signal);
      if (o.ok) return o;
      if (signal.aborted) return priorFailure('timeout', `the prior study was not fetched from the PACS within ${Math.round(deadlineMs / 1000)} s (${o.message})`, true);
      failures.push({ source: name, outcome: o });
    }
    return combineFailures(failures);
  }

  private async fromSource(source: PriorSource, current: CurrentStudy, cfg: PriorsConfig, signal: AbortSignal): Promise<PriorOutcome> {
    const limits = this.deps.limits();
    const common = { responseTimeoutSeconds: limits.responseTimeoutSeconds, signal };
    const dimse: DimseTarget | undefined =
      source.type === 'dimse'
        ? { host: source.host, port: source.port, calledAeTitle: source.aeTitle, callingAeTitle: source.callingAeTitle ?? current.calledAeTitle, ...(source.tls ? { tls: source.tls } : {}) }
        : undefined;

    let attempt = 0;
    const found = await this.withRetries(limits, signal, async (): Promise<FindOutcome> => {
      attempt++;
      const f = dimse
        ? await findPriorStudiesDimse(dimse, current, { ...common, lookbackDays: cfg.lookbackDays, maxMatches: 500 })
        : await findPriorStudiesQido(source as Extract<PriorSource, { type: 'dicomweb' }>, current, { ...common, lookbackDays: cfg.lookbackDays, maxMatches: 500 });
      this.emitSafely('query', { source: source.name, sourceType: source.type, attempt, result: f.ok ? 'ok' : f.reason } satisfies PriorQueryEvent);
      return f;
    });
    if (!found.ok) return found;
    const choice = choosePriorStudy(current, found.matches);
    if (!choice.ok) return priorFailure(choice.reason, `${choice.message} (asked ${source.name})`);
    const match = choice.match;
    this.priors.set(match.StudyInstanceUID, current.StudyInstanceUID);

    const already = this.deps.store.listStudyInstances(match.StudyInstanceUID).map((i) => i.sopInstanceUid);
    if (already.length > 0 && match.NumberOfStudyRelatedInstances !== undefined && already.length >= match.NumberOfStudyRelatedInstances) {
      return this.success(match, choice.relation, source.name, 'already-stored', already);
    }
    const retrieveOpts = { ...common, localAeTitle: current.calledAeTitle, ...(limits.maxInstances !== undefined ? { maxInstances: limits.maxInstances } : {}), ...(limits.maxBytes !== undefined ? { maxBytes: limits.maxBytes } : {}) };
    const got = await this.withRetries(limits, signal, (): Promise<RetrieveOutcome> => {
      if (source.type === 'dicomweb') return retrieveByWado(source, match.StudyInstanceUID, this.deps.store, retrieveOpts);
      if ((source.retrieve ?? 'c-move') === 'c-get') return retrieveByCGet(dimse!, match.StudyInstanceUID, this.deps.store, retrieveOpts);
      return retrieveByCMove(dimse!, current.calledAeTitle, match.StudyInstanceUID, this.deps.store, retrieveOpts);
    });
    if (!got.ok) return priorFailure(got.reason, `the prior study of ${match.StudyDate ? formatDa(match.StudyDate) : 'unknown date'} was found on ${source.name} but not fetched: ${got.message}`, got.retryable);
    if (got.note) this.deps.logger?.warn('prior study fetched with problems', { source: source.name, note: got.note });
    return this.success(match, choice.relation, source.name, got.method, got.sopInstanceUids);
  }

  private success(match: StudyMatch, relation: 'earlier' | 'later', source: string, method: RetrievedPrior['method'], uids: string[]): PriorOutcome {
    return {
      ok: true,
      study: {
        studyInstanceUid: match.StudyInstanceUID,
        ...(match.StudyDate ? { studyDate: match.StudyDate } : {}),
        source,
        method,
        sopInstanceUids: uids,
        relation,
      },
    };
  }

  /** Runs `fn` until it succeeds, fails for good, attempts run out or `signal` aborts. */
  private async withRetries<T extends { ok: boolean; retryable?: boolean }>(limits: PriorLimits, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const r = await fn();
      if (r.ok || !r.retryable || attempt >= limits.maxAttempts || signal.aborted) return r;
      const delay = backoffDelayMs(attempt, limits, this.deps.random);
      await (this.deps.sleep ?? abortableSleep)(delay, signal);
      if (signal.aborted) return r;
    }
  }

  private emitSafely(event: 'query' | 'finished', e: unknown): void {
    for (const l of this.listeners(event)) {
      try {
        (l as (e: unknown) => void)(e);
      } catch (err) {
        this.deps.logger?.error('prior retrieval listener failed', { error: errorMessage(err) });
      }
    }
  }

  private forgetOld(): void {
    if (this.running.size <= MAX_REMEMBERED) return;
    for (const [k, v] of this.running) {
      if (this.running.size <= MAX_REMEMBERED) break;
      if (v.outcome) this.running.delete(k);
    }
  }
}

/** One outcome from every source's failure: the most telling reason, every source's message. */
export function combineFailures(failures: { source: string; outcome: PriorOutcome & { ok: false } }[]): PriorOutcome & { ok: false } {
  if (failures.length === 1) return failures[0]!.outcome;
  const rank: PriorFailureReason[] = ['retrieval-failed', 'patient-mismatch', 'no-match', 'query-failed', 'timeout', 'pacs-unreachable', 'not-configured'];
  const best = [...failures].sort((a, b) => rank.indexOf(a.outcome.reason) - rank.indexOf(b.outcome.reason))[0]!;
  return priorFailure(best.outcome.reason, failures.map((f) => `${f.source}: ${f.outcome.message}`).join('; '), failures.some((f) => f.outcome.retryable));
}

function formatDa(da: string): string {
  return /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : da;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
