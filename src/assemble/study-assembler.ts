/**
 * Study completion: groups stored instances by StudyInstanceUID per called (local) AE title and decides
 * when a study is complete (required series roles present and no instance for quietSeconds, or
 * forceCompleteSeconds after the last instance). Completion and the creation of the study generation's
 * one analysis job happen in one SQLite transaction. State machine, timers, restart and re-analysis:
 * docs/study-completion.md.
 */
import { EventEmitter } from 'node:events';
import { countUnexpectedError } from '../util/unexpected-errors';
import type { CompletionConfig } from '../config/schema';
import type { Logger } from '../logging/logger';
import type { Db } from '../store/database';
import type { BatchingStoredListener, InstanceStoredEvent } from '../store/instance-types';
import type { Job, JobStore } from '../jobs/job-store';
import type { SeriesRoleResolver } from './series-roles';
import { StudyRepository, type CompletionReason, type StudyKey, type StudyRecord } from './study-repository';
import { arrivalAction, completionDeadlines, decideCompletion, firstDecisionTime } from './completion-rule';
import { buildAnalysisJobPayload, parseAnalysisJobPayload } from './analysis-job-payload';

export type { AnalysisJobPayload } from './analysis-job-payload';

/** Time and timers, injectable so tests run without sleeping. */
export interface AssemblerClock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: AssemblerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** setTimeout's largest delay; longer waits re-arm when they fire. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface StudyAssemblerOptions {
  db: Db;
  jobs: JobStore;
  resolveRoles: SeriesRoleResolver;
  /** Completion settings of a local AE title (read at each decision, so API changes apply at once). */
  completionFor: (calledAeTitle: string) => CompletionConfig;
  logger?: Logger;
  clock?: AssemblerClock;
  /**
   * After a restart, studies still receiving are not decided before this many seconds have passed, so
   * senders whose associations the outage broke can resume first. Default: the AE title's quietSeconds.
   * 0 decides at once (a study whose deadline passed while the node was down completes immediately).
   */
  restartGraceSeconds?: number;
  /**
   * A connection to the same database with synchronous=NORMAL for the per-instance bookkeeping in
   * onInstanceStored (a study row created or touched): it then costs no WAL fsync on the C-STORE path. A
   * commit lost to a power failure is rebuilt by reconcile() from the instances index at the next start.
   * Decisions and jobs always use `db`. Default: `db`.
   */
  recordDb?: Db;
  /**
   * True when a study is being fetched from a PACS as another study's prior (the priors stage, wired in by
   * node.ts: the assembler does not know it). C-MOVE arrivals come unflagged through the DIMSE listener, so
   * this is asked for each new study reception; 'stored' events with `prior: true` (C-GET, WADO-RS) count too.
   * A prior completes without an analysis job of its own (so without deliveries) unless `analysePriors`.
   */
  isPriorStudy?: (studyInstanceUid: string, calledAeTitle: string) => boolean;
  /** Whether priors fetched for this local AE title are analysed like any other study (default: no). */
  analysePriors?: (calledAeTitle: string) => boolean;
}

export interface JobCreatedEvent {
  job: Job;
  study: StudyRecord;
  reason: CompletionReason;
  /** Ids of earlier jobs (analyses and their pending children) marked superseded by this one. */
  supersededJobIds: number[];
}

/** Emitted when the first instance of a study reception is recorded (or a late one reopens a complete study). */
export interface StudyReceivedEvent extends StudyKey {
  callingAeTitle: string;
  via: 'dimse' | 'stow';
  reopened: boolean;
  accessionNumber: string | undefined;
}

export interface StudyCompletionStatus {
  roles: Record<string, string>;
  missingRoles: string[];
  requiredRoles: string[];
  /** When the assembler will next decide (ISO), while the study is receiving. */
  nextDecisionAt: string | null;
  quietDeadline: string | null;
  forceDeadline: string | null;
}

export type Decision = 'completed' | 'waiting' | 'not-receiving';

interface Timer {
  handle: unknown;
  dueAt: number;
}

export class StudyAssembler extends EventEmitter {
  readonly studies: StudyRepository;
  /** `studies` on the relaxed-durability connection (see StudyAssemblerOptions.recordDb). */
  private readonly recordStudies: StudyRepository;
  private readonly jobs: JobStore;
  private readonly resolveRoles: SeriesRoleResolver;
  private readonly completionFor: (calledAeTitle: string) => CompletionConfig;
  private readonly logger: Logger | undefined;
  private readonly clock: AssemblerClock;
  private readonly restartGraceSeconds: number | undefined;
  private readonly timers = new Map<string, Timer>();
  /** Earliest decision time per study after a restart (the grace period). */
  private readonly notBefore = new Map<string, number>();
  private stopped = false;

  constructor(private readonly opts: StudyAssemblerOptions) {
    super();
    this.studies = new StudyRepository(opts.db);
    this.recordStudies = opts.recordDb && opts.recordDb !== opts.db ? new StudyRepository(opts.recordDb) : this.studies;
    this.jobs = opts.jobs;
    this.resolveRoles = opts.resolveRoles;
    this.completionFor = opts.completionFor;
    this.logger = opts.logger;
    this.clock = opts.clock ?? systemClock;
    this.restartGraceSeconds = opts.restartGraceSeconds;
  }

  /**
   * Notification from the store after an instance was durably stored and indexed. Never throws: an
   * observer cannot change what the sender was answered; failures are logged.
   */
  onInstanceStored(ev: InstanceStoredEvent): void {
    this.onInstancesStored([ev]);
  }

  /**
   * Several notifications at once (the store's batch of C-STOREs answered within a few milliseconds): their
   * study rows are recorded in one transaction (each instance in a savepoint of its own, so one failing
   * leaves the others), then the events are emitted and the timers armed, as onInstanceStored does for one.
   */
  onInstancesStored(evs: readonly InstanceStoredEvent[]): void {
    const after: Array<{ ev: InstanceStoredEvent; run: () => void }> = [];
    const recordAll = () => {
      for (const ev of evs) this.guarded(ev, () => this.record(ev, after));
    };
    if (evs.length === 1) recordAll();
    else {
      try {
        (this.opts.recordDb ?? this.opts.db).transaction(recordAll)();
      } catch (err) {
        // The commit failed: none of them is recorded; reconcile() rebuilds them from the index at the next start.
        this.guarded(evs[0]!, () => {
          throw err;
        });
        return;
      }
    }
    for (const a of after) this.guarded(a.ev, a.run);
  }

  private guarded(ev: InstanceStoredEvent, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      countUnexpectedError('assembler');
      this.logger?.error('study assembler: instance event failed', {
        studyInstanceUid: ev.instance?.studyInstanceUid,
        error: String((err as Error)?.message ?? err),
      });
    }
  }

  /**
   * Rebuilds state and timers from the store after a (re)start: repairs what a crash between steps can
   * leave behind, then arms a timer for every study still receiving (see docs/study-completion.md).
   */
  start(): void {
    this.stopped = false;
    const startedAt = this.clock.now();
    this.opts.db.transaction(() => this.reconcile())();
    for (const study of this.studies.listByState('receiving')) {
      const key = keyOf(study);
      const grace = this.restartGraceSeconds ?? this.completionOf(study.calledAeTitle).quietSeconds;
      if (grace > 0) this.notBefore.set(keyString(key), startedAt + grace * 1000);
      this.decideSafely(key);
    }
  }

  /** Clears every timer; state stays in the store and start() picks it up again. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) this.clock.clearTimeout(t.handle);
    this.timers.clear();
    this.notBefore.clear();
  }

  /** Studies with an armed timer (for health and tests). */
  pendingCount(): number {
    return this.timers.size;
  }

  /**
   * Decides one study now: complete it (creating its analysis job) when it is due, otherwise (re)arm
   * its timer for the next decision.
   */
  decide(key: StudyKey): Decision {
    const k = keyString(key);
    this.clearTimer(k);
    const study = this.studies.get(key);
    const cfg = study?.state === 'receiving' ? this.completionOf(key.calledAeTitle) : undefined;
    let resolved: { roles: Map<string, string>; missingRoles: string[] } | undefined;
    const decision = cfg
      ? decideCompletion({
          study,
          config: cfg,
          now: this.clock.now(),
          notBefore: this.notBefore.get(k) ?? 0,
          missingRoles: () => (resolved ??= this.rolesOf(key, cfg)).missingRoles,
        })
      : ({ action: 'none' } as const);
    switch (decision.action) {
      case 'none':
        this.notBefore.delete(k);
        return 'not-receiving';
      case 'wait':
        this.arm(k, key, decision.until);
        return 'waiting';
      case 'complete': {
        this.notBefore.delete(k);
        const { roles, missingRoles } = resolved ?? this.rolesOf(key, cfg!);
        this.complete(study!, decision.reason, roles, missingRoles);
        return 'completed';
      }
    }
  }

  /**
   * Completes a receiving study now, whatever its deadlines and missing roles say (reason 'forced'), e.g.
   * on an operator's request through the admin API: its analysis job is created as at a forced timeout.
   */
  forceComplete(key: StudyKey): { outcome: 'completed'; job: Job | undefined } | { outcome: 'not-found' } | { outcome: 'already-complete'; completedAt: string | null } {
    const k = keyString(key);
    const study = this.studies.get(key);
    if (!study) return { outcome: 'not-found' };
    if (study.state !== 'receiving') return { outcome: 'already-complete', completedAt: study.completedAt ?? null };
    this.clearTimer(k);
    this.notBefore.delete(k);
    const { roles, missingRoles } = this.rolesOf(key, this.completionOf(key.calledAeTitle));
    this.complete(study, 'forced', roles, missingRoles);
    const after = this.studies.get(key);
    if (after?.state !== 'complete') {
      // Changed under us (e.g. a late instance): decide it the normal way.
      this.schedule(key);
      return { outcome: 'already-complete', completedAt: after?.completedAt ?? null };
    }
    return { outcome: 'completed', job: this.jobs.findAnalysisJob(key.studyInstanceUid, key.calledAeTitle, after.generation) };
  }

  /** Roles found so far and the timer deadlines of one study reception (for the admin API). */
  completionStatus(key: StudyKey): StudyCompletionStatus | undefined {
    const study = this.studies.get(key);
    if (!study) return undefined;
    const cfg = this.completionOf(key.calledAeTitle);
    const { roles, missingRoles } = this.rolesOf(key, cfg);
    const receiving = study.state === 'receiving';
    const { quietDue, forceDue } = completionDeadlines(study, cfg);
    const timer = this.timers.get(keyString(key));
    return {
      roles: Object.fromEntries(roles),
      missingRoles,
      requiredRoles: [...cfg.requiredSeries],
      nextDecisionAt: receiving && timer ? new Date(timer.dueAt).toISOString() : null,
      quietDeadline: receiving ? new Date(quietDue).toISOString() : null,
      forceDeadline: receiving ? new Date(forceDue).toISOString() : null,
    };
  }

  /** Records one instance's arrival; what follows the commit (event, timer) is queued on `after`. */
  private record(ev: InstanceStoredEvent, after: Array<{ ev: InstanceStoredEvent; run: () => void }>): void {
    const i = ev.instance;
    const key: StudyKey = { studyInstanceUid: i.studyInstanceUid, calledAeTitle: i.calledAeTitle };
    const nowIso = new Date(this.clock.now()).toISOString();
    const patientId = typeof i.header?.PatientID === 'string' && i.header.PatientID !== '' ? i.header.PatientID : null;
    const prior = ev.prior === true || this.isPrior(key);
    const studies = this.recordStudies;
    let arrival: 'create' | 'reopen' | undefined;
    const receiving = (this.opts.recordDb ?? this.opts.db).transaction((): boolean => {
      arrival = undefined;
      if (ev.identityCorrected) studies.rekeyPatient(key.studyInstanceUid, patientId);
      const study = studies.get(key);
      const action = arrivalAction(study, { duplicate: ev.duplicate, receivedAt: i.receivedAt });
      if (action === 'ignore') return false;
      if (action === 'create' || action === 'reopen' || !study) arrival = action === 'reopen' ? 'reopen' : 'create';
      if (action === 'create' || !study) {
        studies.insertReceiving({
          ...key,
          callingAeTitle: i.callingAeTitle,
          patientId,
          firstReceivedAt: nowIso,
          lastReceivedAt: nowIso,
          generation: 0,
          prior,
        });
        return true;
      }
      if (prior && !study.prior) studies.markPrior(key);
      if (action === 'touch') {
        studies.touch(key, nowIso, patientId);
        return true;
      }
      studies.reopen(key, nowIso, study.generation);
      this.logger?.info('late instance reopens a complete study for re-analysis', {
        studyInstanceUid: key.studyInstanceUid,
        calledAeTitle: key.calledAeTitle,
        generation: study.generation + 1,
      });
      return true;
    })();
    const arrived = arrival;
    if (!arrived && !receiving) return;
    after.push({
      ev,
      run: () => {
        if (arrived) this.emitSafely('study-received', { ...key, callingAeTitle: i.callingAeTitle, via: ev.via, reopened: arrived === 'reopen', accessionNumber: accessionOf(i.header) } satisfies StudyReceivedEvent);
        if (receiving) this.schedule(key);
      },
    });
  }

  /** Observers (audit, metrics) never change what happens to the study: a throwing listener is logged. */
  private emitSafely(event: string, payload: unknown): void {
    try {
      this.emit(event, payload);
    } catch (err) {
      this.logger?.error(`${event} listener failed`, { error: String((err as Error)?.message ?? err) });
    }
  }

  /** Arms the study's timer for its next decision time (coalesces a burst of instances into one decision). */
  private schedule(key: StudyKey): void {
    const k = keyString(key);
    try {
      const study = this.studies.get(key);
      if (!study || study.state !== 'receiving') return;
      this.arm(k, key, firstDecisionTime(study, this.completionOf(key.calledAeTitle), this.notBefore.get(k) ?? 0));
    } catch (err) {
      // The instance is recorded; make sure a decision still happens.
      this.logger?.error('study completion scheduling failed; deciding later', {
        studyInstanceUid: key.studyInstanceUid,
        error: String((err as Error)?.message ?? err),
      });
      this.arm(k, key, this.clock.now() + 5000);
    }
  }

  /**
   * Re-analysis on demand (e.g. new clinical covariates): a complete study gets a new generation and one
   * new analysis job whose results supersede the earlier ones, exactly as after late instances. A study
   * still receiving needs nothing: its coming completion reads the current covariates.
   */
  requestReanalysis(key: StudyKey, note: string): Job | undefined {
    const outcome = this.opts.db.transaction(() => {
      const current = this.studies.get(key);
      if (!current || current.state !== 'complete') return undefined;
      if (!this.studies.bumpGeneration(key, current.generation)) return undefined;
      const generation = current.generation + 1;
      const parent = this.jobs.findPreviousAnalysisJob(key.studyInstanceUid, key.calledAeTitle, generation);
      const payload = buildAnalysisJobPayload({
        study: current,
        generation,
        reason: current.completionReason ?? 'quiet',
        trigger: 'requested',
        series: this.studies.seriesOf(key),
        supersedesJobId: parent?.id ?? null,
      });
      const job = this.jobs.createAnalysisJob({ studyInstanceUid: key.studyInstanceUid, calledAeTitle: key.calledAeTitle, generation, parentJobId: parent?.id ?? null, payload, note });
      const supersededJobIds = this.jobs.supersedeEarlierAnalyses(key.studyInstanceUid, key.calledAeTitle, generation, job.id);
      return { job, supersededJobIds, study: this.studies.get(key)! };
    })();
    if (!outcome) return undefined;
    this.logger?.info('re-analysis requested', { studyInstanceUid: key.studyInstanceUid, calledAeTitle: key.calledAeTitle, jobId: outcome.job.id, superseded: outcome.supersededJobIds });
    try {
      this.emit('job-created', { job: outcome.job, study: outcome.study, reason: outcome.study.completionReason ?? 'quiet', supersededJobIds: outcome.supersededJobIds });
    } catch (err) {
      this.logger?.error('job-created listener failed', { jobId: outcome.job.id, error: String((err as Error)?.message ?? err) });
    }
    return outcome.job;
  }

  private complete(study: StudyRecord, reason: CompletionReason, roles: Map<string, string>, missingRoles: string[]): void {
    const key = keyOf(study);
    const at = new Date(this.clock.now()).toISOString();
    if (study.prior && !this.opts.analysePriors?.(key.calledAeTitle)) {
      // A prior fetched for another study's progression analysis: complete, no job, no deliveries.
      if (this.studies.markComplete(key, study.generation, at, reason)) {
        this.logger?.info('prior study complete (fetched for another study; no analysis of its own)', { studyInstanceUid: key.studyInstanceUid, calledAeTitle: key.calledAeTitle, reason });
        this.emitSafely('prior-complete', { study: this.studies.get(key)!, reason });
      }
      return;
    }
    const outcome = this.opts.db.transaction(() => {
      const current = this.studies.get(key);
      if (!current || current.state !== 'receiving' || current.generation !== study.generation) return undefined;
      const existing = this.jobs.findAnalysisJob(key.studyInstanceUid, key.calledAeTitle, current.generation);
      let job: Job;
      let supersededJobIds: number[] = [];
      if (existing) {
        job = existing; // created before a crash left the study row behind: complete it, create nothing
      } else {
        const parent = this.jobs.findPreviousAnalysisJob(key.studyInstanceUid, key.calledAeTitle, current.generation);
        const payload = buildAnalysisJobPayload({
          study: current,
          generation: current.generation,
          reason,
          trigger: current.generation === 0 ? 'initial' : 'late-instances',
          roles,
          missingRoles,
          series: this.studies.seriesOf(key),
          supersedesJobId: parent?.id ?? null,
        });
        job = this.jobs.createAnalysisJob({
          studyInstanceUid: key.studyInstanceUid,
          calledAeTitle: key.calledAeTitle,
          generation: current.generation,
          parentJobId: parent?.id ?? null,
          payload,
          note: `study complete (${reason}${current.generation > 0 ? ', re-analysis after late instances' : ''})`,
        });
        supersededJobIds = this.jobs.supersedeEarlierAnalyses(key.studyInstanceUid, key.calledAeTitle, current.generation, job.id);
      }
      this.studies.markComplete(key, current.generation, at, reason);
      return { job, created: !existing, supersededJobIds, study: this.studies.get(key)! };
    })();
    if (!outcome) return;
    this.logger?.info('study complete', {
      studyInstanceUid: key.studyInstanceUid,
      calledAeTitle: key.calledAeTitle,
      generation: study.generation,
      reason,
      jobId: outcome.job.id,
      missingRoles,
      superseded: outcome.supersededJobIds,
    });
    if (!outcome.created) return;
    const event: JobCreatedEvent = { job: outcome.job, study: outcome.study, reason, supersededJobIds: outcome.supersededJobIds };
    try {
      this.emit('job-created', event);
    } catch (err) {
      this.logger?.error('job-created listener failed', { jobId: outcome.job.id, error: String((err as Error)?.message ?? err) });
    }
  }

  /**
   * Repairs the store after a crash (all in one transaction):
   * 1. a receiving study whose current generation already has its analysis job is marked complete;
   * 2. instances indexed without their event being handled: a missing study row is created, a receiving
   *    study's last_received_at moves forward, a complete study with instances received after its
   *    completion is reopened with generation + 1.
   */
  private reconcile(): void {
    for (const study of this.studies.listByState('receiving')) {
      const job = this.jobs.findAnalysisJob(study.studyInstanceUid, study.calledAeTitle, study.generation);
      if (!job) continue;
      const reason = reasonOf(job.payload);
      this.studies.markComplete(keyOf(study), study.generation, job.createdAt, reason);
      this.logger?.warn('restart: study had its analysis job but was still receiving; marked complete', {
        studyInstanceUid: study.studyInstanceUid,
        jobId: job.id,
      });
    }
    for (const agg of this.studies.instanceAggregates()) {
      const key = keyOf(agg);
      const last = isoOrUndefined(agg.lastReceivedAt);
      const study = this.studies.get(key);
      if (!study) {
        const first = isoOrUndefined(agg.firstReceivedAt) ?? new Date(this.clock.now()).toISOString();
        this.studies.insertReceiving({ ...key, callingAeTitle: agg.callingAeTitle, patientId: agg.patientId, firstReceivedAt: first, lastReceivedAt: last ?? first, generation: 0 });
        this.logger?.warn('restart: indexed instances without a study row; study created', { studyInstanceUid: key.studyInstanceUid });
        continue;
      }
      if (!last) continue;
      if (study.state === 'receiving') {
        this.studies.touch(key, last, agg.patientId);
      } else if (study.completedAt && Date.parse(last) > Date.parse(study.completedAt)) {
        this.studies.reopen(key, last, study.generation);
        this.logger?.warn('restart: instances received after completion were not yet handled; study reopened', {
          studyInstanceUid: key.studyInstanceUid,
          generation: study.generation + 1,
        });
      }
    }
  }

  private isPrior(key: StudyKey): boolean {
    try {
      return this.opts.isPriorStudy?.(key.studyInstanceUid, key.calledAeTitle) === true;
    } catch (err) {
      this.logger?.error('prior-study predicate failed', { studyInstanceUid: key.studyInstanceUid, error: String((err as Error)?.message ?? err) });
      return false;
    }
  }


  private rolesOf(key: StudyKey, cfg: CompletionConfig): { roles: Map<string, string>; missingRoles: string[] } {
    let roles: Map<string, string>;
    try {
      roles = this.resolveRoles(this.studies.seriesHeadersOf(key));
    } catch (err) {
      this.logger?.error('series role resolver failed; the study waits for force-complete', {
        studyInstanceUid: key.studyInstanceUid,
        error: String((err as Error)?.message ?? err),
      });
      roles = new Map();
    }
    return { roles, missingRoles: cfg.requiredSeries.filter((r) => !roles.has(r)) };
  }

  private completionOf(calledAeTitle: string): CompletionConfig {
    return this.completionFor(calledAeTitle);
  }

  private decideSafely(key: StudyKey): void {
    if (this.stopped) return;
    try {
      this.decide(key);
    } catch (err) {
      countUnexpectedError('assembler');
      this.logger?.error('study completion decision failed; retrying later', {
        studyInstanceUid: key.studyInstanceUid,
        error: String((err as Error)?.message ?? err),
      });
      this.arm(keyString(key), key, this.clock.now() + 5000);
    }
  }

  private arm(k: string, key: StudyKey, dueAt: number): void {
    if (this.stopped) return;
    this.clearTimer(k);
    const delay = Math.min(Math.max(0, dueAt - this.clock.now()), MAX_TIMER_MS);
    const handle = this.clock.setTimeout(() => {
      if (this.timers.get(k)?.handle !== handle) return;
      this.timers.delete(k);
      this.decideSafely(key);
    }, delay);
    this.timers.set(k, { handle, dueAt });
  }

  private clearTimer(k: string): void {
    const t = this.timers.get(k);
    if (t) this.clock.clearTimeout(t.handle);
    this.timers.delete(k);
  }
}

/**
 * Subscribes an assembler to a store's 'stored' events (the InstanceStore from src/store emits them).
 * Returns the function that unsubscribes.
 */
export function connectAssembler(emitter: EventEmitter, assembler: Pick<StudyAssembler, 'onInstanceStored'> & Partial<Pick<StudyAssembler, 'onInstancesStored'>>): () => void {
  const listener: BatchingStoredListener = (ev: InstanceStoredEvent) => assembler.onInstanceStored(ev);
  if (assembler.onInstancesStored) listener.storedBatch = (evs) => assembler.onInstancesStored!(evs);
  emitter.on('stored', listener);
  return () => emitter.off('stored', listener);
}

/** The completion reason recorded in a job's payload; 'quiet' when the payload cannot be read. */
function reasonOf(payload: unknown): CompletionReason {
  try {
    return parseAnalysisJobPayload(payload).reason;
  } catch {
    return (payload as { reason?: unknown } | null)?.reason === 'forced' ? 'forced' : 'quiet';
  }
}

function accessionOf(h: { AccessionNumber?: unknown } | undefined): string | undefined {
  return typeof h?.AccessionNumber === 'string' && h.AccessionNumber !== '' ? h.AccessionNumber : undefined;
}

function keyOf(k: StudyKey): StudyKey {
  return { studyInstanceUid: k.studyInstanceUid, calledAeTitle: k.calledAeTitle };
}

function keyString(k: StudyKey): string {
  return `${k.calledAeTitle}\u0000${k.studyInstanceUid}`;
}

function isoOrUndefined(s: string | null | undefined): string | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}
