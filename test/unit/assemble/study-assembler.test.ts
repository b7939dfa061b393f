import assert from 'node:assert/strict';
import { CompletionSchema, type CompletionConfig } from '../../../src/config/schema';
import { openDatabase, type Db } from '../../../src/store/database';
import { JobStore } from '../../../src/jobs/job-store';
import { EventEmitter } from 'node:events';
import { StudyAssembler, connectAssembler, type JobCreatedEvent } from '../../../src/assemble/study-assembler';
import { ruleBasedRoleResolver } from '../../../src/select';
import { loadConfig } from '../../../src/config/load';
import type { SeriesRoleResolver } from '../../../src/assemble/series-roles';
import { FakeClock } from '../../helpers/fake-clock';
import { indexSeries, indexInstance, makeInstance } from '../../helpers/instance-seam';
import type { BatchingStoredListener, InstanceStoredEvent } from '../../../src/store/instance-types';
import { tempDir } from '../../helpers/temp-dir';
import { unexpectedErrorCounts } from '../../../src/util/unexpected-errors';

const STUDY = '1.2.826.0.1.3680043.8.498.1001';
const S = 1000;
/** The resolver production runs (src/node.ts), with the shipped selection rules of config/default.json. */
const productionResolver = ruleBasedRoleResolver(loadConfig({ env: {} }).selection.rules);

interface Rig {
  db: Db;
  clock: FakeClock;
  jobs: JobStore;
  assembler: StudyAssembler;
  created: JobCreatedEvent[];
  /** Indexes and announces one series; the clock moves 100 ms per instance. */
  send(kind: Parameters<typeof indexSeries>[1]['kind'], seriesNumber: number, opts?: { count?: number; calledAeTitle?: string; study?: string; prior?: boolean }): void;
  restart(opts?: { downMs?: number; restartGraceSeconds?: number }): void;
  cleanup(): void;
}

function rig(
  opts: {
    completion?: Partial<CompletionConfig> | Record<string, Partial<CompletionConfig>>;
    restartGraceSeconds?: number;
    resolver?: SeriesRoleResolver;
    isPriorStudy?: (uid: string) => boolean;
    analysePriors?: boolean;
  } = {},
): Rig {
  const t = tempDir('npcai-assemble-');
  const clock = new FakeClock();
  let db = openDatabase(t.dir);
  const perAe = opts.completion && Object.values(opts.completion).some((v) => typeof v === 'object');
  const completionFor = (ae: string): CompletionConfig =>
    CompletionSchema.parse(perAe ? ((opts.completion as Record<string, Partial<CompletionConfig>>)[ae] ?? {}) : (opts.completion ?? {}));
  const created: JobCreatedEvent[] = [];
  const build = (grace?: number) => {
    const jobs = new JobStore(db, { now: clock.date });
    const assembler = new StudyAssembler({
      db,
      jobs,
      resolveRoles: opts.resolver ?? productionResolver,
      completionFor,
      clock,
      restartGraceSeconds: grace,
      ...(opts.isPriorStudy ? { isPriorStudy: opts.isPriorStudy } : {}),
      ...(opts.analysePriors !== undefined ? { analysePriors: () => opts.analysePriors! } : {}),
    });
    assembler.on('job-created', (e: JobCreatedEvent) => created.push(e));
    return { jobs, assembler };
  };
  const r: Rig = {
    db,
    clock,
    created,
    ...build(opts.restartGraceSeconds),
    send(kind, seriesNumber, o = {}) {
      const events = indexSeries(r.db, {
        studyInstanceUid: o.study ?? STUDY,
        kind,
        seriesNumber,
        count: o.count,
        calledAeTitle: o.calledAeTitle,
        receivedAt: () => {
          clock.advance(100);
          return clock.date().toISOString();
        },
      });
      for (const e of events) r.assembler.onInstanceStored(o.prior ? { ...e, prior: true } : e);
    },
    restart(o = {}) {
      // Like kill -9: timers vanish without stop(), the database is reopened from disk.
      r.assembler.removeAllListeners();
      (r.assembler as unknown as { stopped: boolean }).stopped = true;
      db.close();
      clock.jump(o.downMs ?? 0);
      db = openDatabase(t.dir);
      r.db = db;
      const b = build(o.restartGraceSeconds ?? opts.restartGraceSeconds);
      r.jobs = b.jobs;
      r.assembler = b.assembler;
      r.jobs.requeueInterrupted();
      r.assembler.start();
    },
    cleanup() {
      r.assembler.stop();
      db.close();
      t.cleanup();
    },
  };
  r.assembler.start();
  return r;
}

function analysisJobs(r: Rig) {
  return r.jobs.list({ kind: 'analysis', study: STUDY }).reverse();
}

describe('StudyAssembler', () => {
  let r: Rig;
  afterEach(() => r?.cleanup());

  describe('a prior fetched from a PACS for another study', () => {
    const key = { studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' };
    const sendStudy = (o: { prior?: boolean } = {}) => {
      r.send('t1', 1, o);
      r.send('t2', 2, o);
      r.send('ce-t1', 3, o);
    };

    it('completes without an analysis job when the priors stage says it is one (C-MOVE arrivals are unflagged), also after a restart', () => {
      let fetching = true;
      r = rig({ completion: { quietSeconds: 20 }, isPriorStudy: (uid) => fetching && uid === STUDY });
      sendStudy();
      r.clock.advance(21 * S);
      const study = r.assembler.studies.get(key)!;
      assert.equal(study.state, 'complete');
      assert.equal(study.prior, true, 'recorded as a prior');
      assert.equal(analysisJobs(r).length, 0, 'no analysis job, so no delivery');
      assert.equal(r.created.length, 0);
      // The node restarts (the priors stage's memory is gone) and a late instance of the prior arrives.
      fetching = false;
      r.restart({ restartGraceSeconds: 0 });
      r.send('t1', 4, { count: 1 });
      r.clock.advance(21 * S);
      assert.equal(r.assembler.studies.get(key)!.state, 'complete');
      assert.equal(r.assembler.studies.get(key)!.prior, true, 'the flag is persisted');
      assert.equal(analysisJobs(r).length, 0, 'still no analysis of the prior');
    });

    it("completes without an analysis job when the 'stored' events say prior (C-GET, WADO-RS)", () => {
      r = rig({ completion: { quietSeconds: 20 } });
      sendStudy({ prior: true });
      r.clock.advance(21 * S);
      assert.equal(r.assembler.studies.get(key)!.state, 'complete');
      assert.equal(analysisJobs(r).length, 0);
    });

    it('is analysed like any study when the AE title says priors.analyse', () => {
      r = rig({ completion: { quietSeconds: 20 }, isPriorStudy: () => true, analysePriors: true });
      sendStudy();
      r.clock.advance(21 * S);
      assert.equal(analysisJobs(r).length, 1);
      assert.equal(r.assembler.studies.get(key)!.prior, true);
    });

    it('a study that is no prior is analysed as before', () => {
      r = rig({ completion: { quietSeconds: 20 }, isPriorStudy: () => false });
      sendStudy();
      r.clock.advance(21 * S);
      assert.equal(analysisJobs(r).length, 1);
      assert.equal(r.assembler.studies.get(key)!.prior, false);
    });
  });

  it('creates one analysis job for a study sent over three associations a few seconds apart, after the quiet time', () => {
    r = rig();
    r.send('t1', 1);
    r.clock.advance(4 * S);
    r.send('t2', 2);
    r.clock.advance(3 * S);
    r.send('localizer', 3, { count: 1 });
    r.send('ce-t1', 4);
    r.clock.advance(19 * S);
    assert.equal(analysisJobs(r).length, 0, 'no job before quietSeconds have passed since the last instance');
    assert.equal(r.assembler.studies.get({ studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' })!.state, 'receiving');
    r.clock.advance(2 * S);
    const jobs = analysisJobs(r);
    assert.equal(jobs.length, 1);
    assert.equal(r.created.length, 1);
    const job = jobs[0]!;
    assert.equal(job.state, 'queued');
    assert.equal(job.generation, 0);
    assert.equal(job.parentJobId, null);
    const payload = job.payload as { roles: Record<string, string>; missingRoles: string[]; reason: string; seriesCount: number; instanceCount: number };
    assert.deepEqual(Object.keys(payload.roles).sort(), ['ce-t1', 't1', 't2']);
    assert.deepEqual(payload.missingRoles, []);
    assert.equal(payload.reason, 'quiet');
    assert.equal(payload.seriesCount, 4);
    assert.equal(payload.instanceCount, 13);
    const study = r.assembler.studies.get({ studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' })!;
    assert.equal(study.state, 'complete');
    assert.equal(study.completionReason, 'quiet');
    r.clock.advance(3600 * S);
    assert.equal(analysisJobs(r).length, 1, 'no further job while nothing new arrives');
    assert.equal(r.assembler.pendingCount(), 0);
  });

  it('keeps waiting while instances keep coming, each one re-arming the quiet timer', () => {
    r = rig({ completion: { quietSeconds: 20 } });
    r.send('t1', 1);
    r.send('t2', 2);
    r.send('ce-t1', 3);
    for (let i = 0; i < 5; i++) {
      r.clock.advance(15 * S);
      r.send('dwi', 10 + i, { count: 1 });
    }
    assert.equal(analysisJobs(r).length, 0);
    r.clock.advance(20 * S);
    assert.equal(analysisJobs(r).length, 1);
  });

  it('force-completes with what it has forceCompleteSeconds after the last instance when a required series is missing', () => {
    r = rig({ completion: { quietSeconds: 20, forceCompleteSeconds: 120 } });
    r.send('t1', 1);
    r.send('t2', 2);
    r.clock.advance(100 * S);
    assert.equal(analysisJobs(r).length, 0, 'quiet alone does not complete a study without its required series');
    const status = r.assembler.completionStatus({ studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' })!;
    assert.deepEqual(status.missingRoles, ['ce-t1']);
    assert.ok(status.nextDecisionAt);
    r.clock.advance(21 * S);
    const jobs = analysisJobs(r);
    assert.equal(jobs.length, 1);
    const payload = jobs[0]!.payload as { reason: string; missingRoles: string[] };
    assert.equal(payload.reason, 'forced');
    assert.deepEqual(payload.missingRoles, ['ce-t1']);
    assert.equal(r.assembler.studies.get({ studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' })!.completionReason, 'forced');
  });

  it('force-completes on request (the admin API) at once: one job, its timer cleared; then already-complete; unknown not-found', () => {
    r = rig({ completion: { quietSeconds: 20, forceCompleteSeconds: 3600 } });
    r.send('t1', 1);
    const key = { studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' };
    const out = r.assembler.forceComplete(key);
    assert.equal(out.outcome, 'completed');
    const jobs = analysisJobs(r);
    assert.equal(jobs.length, 1);
    assert.equal(out.outcome === 'completed' && out.job?.id, jobs[0]!.id);
    assert.equal((jobs[0]!.payload as { reason: string }).reason, 'forced');
    assert.equal(r.created.length, 1, 'job-created told the analysis worker');
    assert.equal(r.assembler.studies.get(key)!.completionReason, 'forced');
    assert.equal(r.assembler.pendingCount(), 0, 'no timer left for the study');
    assert.equal(r.assembler.forceComplete(key).outcome, 'already-complete');
    r.clock.advance(4000 * S);
    assert.equal(analysisJobs(r).length, 1, 'the old force deadline creates nothing');
    assert.deepEqual(r.assembler.forceComplete({ studyInstanceUid: '1.2.3.999', calledAeTitle: 'NPCAI' }), { outcome: 'not-found' });
  });

  it('honours required series configured per local AE title', () => {
    r = rig({ completion: { NPCAI: { requiredSeries: ['t2'], quietSeconds: 5 }, OTHER: { quietSeconds: 5 } } });
    r.send('t2', 1);
    r.send('t2', 1, { calledAeTitle: 'OTHER' });
    r.clock.advance(6 * S);
    assert.equal(r.jobs.list({ kind: 'analysis', calledAeTitle: 'NPCAI' }).length, 1);
    assert.equal(r.jobs.list({ kind: 'analysis', calledAeTitle: 'OTHER' }).length, 0, 'OTHER still needs t1 and ce-t1');
    assert.equal(r.assembler.studies.receptionsOf(STUDY).length, 2);
  });

  it('re-analyses after a late series: generation + 1, parent_job_id = previous job, previous job superseded', () => {
    r = rig();
    r.send('t1', 1);
    r.send('t2', 2);
    r.send('ce-t1', 3);
    r.clock.advance(21 * S);
    const [first] = analysisJobs(r);
    r.clock.advance(600 * S);
    r.send('t2', 5); // a late, re-acquired T2
    const reopened = r.assembler.studies.get({ studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' })!;
    assert.equal(reopened.state, 'receiving');
    assert.equal(reopened.generation, 1);
    r.clock.advance(21 * S);
    const jobs = analysisJobs(r);
    assert.equal(jobs.length, 2);
    const [old, next] = jobs as [typeof first, typeof first];
    assert.equal(next!.generation, 1);
    assert.equal(next!.parentJobId, first!.id);
    assert.equal((next!.payload as { trigger: string; supersedesJobId: number }).trigger, 'late-instances');
    assert.equal((next!.payload as { supersedesJobId: number }).supersedesJobId, first!.id);
    assert.equal(old!.state, 'superseded');
    assert.equal(old!.supersededBy, next!.id);
    assert.deepEqual(r.created.at(-1)!.supersededJobIds, [first!.id]);
    assert.equal(old!.history.at(-1)!.to, 'superseded');
  });

  it('lets a running job finish when superseded, ending it in superseded with its result kept', () => {
    r = rig();
    r.send('t1', 1);
    r.send('t2', 2);
    r.send('ce-t1', 3);
    r.clock.advance(21 * S);
    const running = r.jobs.claimNext('analysis')!;
    r.send('ce-t1', 6);
    r.clock.advance(21 * S);
    assert.equal(r.jobs.get(running.id)!.state, 'running');
    assert.ok(r.jobs.get(running.id)!.supersededBy);
    const done = r.jobs.complete(running.id, { sr: '1.2.3' })!;
    assert.equal(done.state, 'superseded');
    assert.deepEqual(done.result, { sr: '1.2.3' });
  });

  it('does not reopen a complete study for a duplicate or for an instance indexed before the completion', () => {
    r = rig();
    r.send('t1', 1);
    r.send('t2', 2);
    r.send('ce-t1', 3);
    // indexed now, its event delayed until after the completion decision
    const early = indexInstance(r.db, makeInstance({ studyInstanceUid: STUDY, seriesInstanceUid: '1.2.3.99', instanceNumber: 1, receivedAt: r.clock.date().toISOString() }));
    r.clock.advance(21 * S);
    r.assembler.onInstanceStored(early);
    const again = indexSeries(r.db, { studyInstanceUid: STUDY, kind: 't1', seriesNumber: 1, receivedAt: () => r.clock.date().toISOString() });
    assert.ok(again.every((e) => e.duplicate));
    r.clock.advance(S);
    for (const e of again) r.assembler.onInstanceStored(e);
    r.clock.advance(3600 * S);
    assert.equal(analysisJobs(r).length, 1);
    assert.equal(r.assembler.studies.get({ studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' })!.generation, 0);
  });

  it('creates exactly one job per generation even when asked to decide again', () => {
    r = rig();
    r.send('t1', 1);
    r.send('t2', 2);
    r.send('ce-t1', 3);
    r.clock.advance(21 * S);
    const key = { studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' };
    assert.equal(r.assembler.decide(key), 'not-receiving');
    // a second assembler on the same database (e.g. a stale timer) cannot add a job either
    r.db.prepare(`UPDATE studies SET state = 'receiving'`).run();
    const other = new StudyAssembler({ db: r.db, jobs: r.jobs, resolveRoles: productionResolver, completionFor: () => CompletionSchema.parse({}), clock: r.clock });
    const events: unknown[] = [];
    other.on('job-created', (e) => events.push(e));
    assert.equal(other.decide(key), 'completed');
    assert.equal(events.length, 0);
    assert.equal(analysisJobs(r).length, 1);
  });

  it('waits for force-complete when the role resolver throws, and never crashes', () => {
    r = rig({
      completion: { quietSeconds: 5, forceCompleteSeconds: 60 },
      resolver: () => {
        throw new Error('bad rule');
      },
    });
    r.send('t1', 1);
    r.clock.advance(10 * S);
    assert.equal(analysisJobs(r).length, 0);
    r.clock.advance(51 * S);
    assert.equal(analysisJobs(r).length, 1);
    assert.equal((analysisJobs(r)[0]!.payload as { reason: string }).reason, 'forced');
  });

  it('records a batch of instances (one transaction, a bad event among them) as it records them one by one', () => {
    const outcome = (batched: boolean) => {
      r = rig({ completion: { quietSeconds: 5, forceCompleteSeconds: 60 } });
      const received: unknown[] = [];
      r.assembler.on('study-received', (e) => received.push(e));
      const broken = { instance: undefined, duplicate: false, via: 'dimse' } as unknown as InstanceStoredEvent;
      const events = indexSeries(r.db, { studyInstanceUid: STUDY, kind: 't1', seriesNumber: 1, receivedAt: () => r.clock.date().toISOString() });
      const all = [events[0]!, broken, ...events.slice(1)];
      if (batched) r.assembler.onInstancesStored(all);
      else for (const e of all) r.assembler.onInstanceStored(e);
      const pending = r.assembler.pendingCount();
      r.clock.advance(61 * S);
      const jobs = analysisJobs(r).map((j) => (j.payload as { reason: string }).reason);
      r.cleanup();
      r = undefined as unknown as Rig;
      return { received: received.length, pending, jobs };
    };
    const one = outcome(false);
    assert.deepEqual(one, { received: 1, pending: 1, jobs: ['forced'] });
    assert.deepEqual(outcome(true), one);
  });

  it('logs and swallows a failing event instead of throwing into the store', () => {
    r = rig();
    const broken = { instance: undefined, duplicate: false, via: 'dimse' } as unknown as InstanceStoredEvent;
    assert.doesNotThrow(() => r.assembler.onInstanceStored(broken));
    r.send('t1', 1);
    assert.equal(r.assembler.pendingCount(), 1, 'the assembler keeps working after a bad event');
  });

  it('still decides when reading the AE title settings fails once', () => {
    let failures = 1;
    r = rig();
    const base = (r.assembler as unknown as { completionFor: (ae: string) => CompletionConfig }).completionFor;
    (r.assembler as unknown as { completionFor: (ae: string) => CompletionConfig }).completionFor = (ae) => {
      if (failures-- > 0) throw new Error('settings unreadable');
      return base(ae);
    };
    r.send('t1', 1, { count: 1 });
    assert.equal(r.assembler.pendingCount(), 1, 'a retry is armed');
    r.send('t2', 2);
    r.send('ce-t1', 3);
    r.send('t1', 4);
    r.clock.advance(21 * S);
    assert.equal(analysisJobs(r).length, 1);
  });

  it('counts a database error its timer meets (e.g. SQLITE_BUSY), retries, and completes once the database answers', () => {
    const assemblerErrors = () => unexpectedErrorCounts().find(([where]) => where === 'assembler')?.[1] ?? 0;
    r = rig();
    const studies = r.assembler.studies as unknown as { markComplete: (...a: unknown[]) => boolean };
    const real = studies.markComplete.bind(studies);
    let busy = 1;
    studies.markComplete = (...a: unknown[]) => {
      if (busy-- > 0) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      return real(...a);
    };
    const before = assemblerErrors();
    r.send('t1', 1);
    r.send('t2', 2);
    r.send('ce-t1', 3);
    r.clock.advance(21 * S);
    assert.equal(assemblerErrors(), before + 1, 'the failed decision is counted for /metrics');
    r.clock.advance(60 * S);
    assert.equal(analysisJobs(r).length, 1, 'decided again later: exactly one job');
  });

  it('stop() clears every timer so nothing completes afterwards', () => {
    r = rig();
    r.send('t1', 1);
    r.send('t2', 2);
    r.send('ce-t1', 3);
    assert.equal(r.assembler.pendingCount(), 1);
    r.assembler.stop();
    assert.equal(r.assembler.pendingCount(), 0);
    r.clock.advance(3600 * S);
    assert.equal(analysisJobs(r).length, 0);
    r.assembler.start();
  });

  describe('after a restart', () => {
    it('completes at once a study whose deadline passed while the node was down (restartGraceSeconds 0)', () => {
      r = rig({ restartGraceSeconds: 0 });
      r.send('t1', 1);
      r.send('t2', 2);
      r.send('ce-t1', 3);
      r.clock.advance(5 * S);
      r.restart({ downMs: 60 * S });
      assert.equal(analysisJobs(r).length, 1);
      assert.equal(r.created.length, 1);
    });

    it('by default gives senders quietSeconds after the restart to resume, then completes once', () => {
      r = rig();
      r.send('t1', 1);
      r.send('t2', 2, { count: 2 });
      r.restart({ downMs: 3600 * S });
      assert.equal(analysisJobs(r).length, 0, 'not decided during the grace period');
      r.clock.advance(5 * S);
      r.send('t2', 2, { count: 4 }); // the sender resends the whole association: 2 duplicates, 2 new
      r.send('ce-t1', 3);
      r.clock.advance(19 * S);
      assert.equal(analysisJobs(r).length, 0);
      r.clock.advance(2 * S);
      assert.equal(analysisJobs(r).length, 1);
      assert.deepEqual((analysisJobs(r)[0]!.payload as { missingRoles: string[] }).missingRoles, []);
      r.clock.advance(3600 * S);
      assert.equal(analysisJobs(r).length, 1);
    });

    it('rebuilds the timer of a study still within its quiet time', () => {
      r = rig({ restartGraceSeconds: 0 });
      r.send('t1', 1);
      r.send('t2', 2);
      r.send('ce-t1', 3);
      r.restart({ downMs: 10 * S });
      assert.equal(analysisJobs(r).length, 0);
      assert.equal(r.assembler.pendingCount(), 1);
      r.clock.advance(11 * S);
      assert.equal(analysisJobs(r).length, 1);
    });

    it('force-completes after the restart a study whose force deadline passed while down', () => {
      r = rig({ restartGraceSeconds: 0, completion: { forceCompleteSeconds: 60 } });
      r.send('t1', 1);
      r.restart({ downMs: 120 * S });
      const jobs = analysisJobs(r);
      assert.equal(jobs.length, 1);
      assert.equal((jobs[0]!.payload as { reason: string }).reason, 'forced');
    });

    it('marks complete, without a second job, a study whose job was created but whose row was left receiving', () => {
      r = rig({ restartGraceSeconds: 0 });
      r.send('t1', 1);
      r.send('t2', 2);
      r.send('ce-t1', 3);
      r.clock.advance(21 * S);
      r.db.prepare(`UPDATE studies SET state = 'receiving', completed_at = NULL, completion_reason = NULL`).run();
      r.restart({ downMs: 5 * S });
      const study = r.assembler.studies.get({ studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' })!;
      assert.equal(study.state, 'complete');
      assert.equal(study.generation, 0);
      assert.equal(analysisJobs(r).length, 1);
      r.clock.advance(3600 * S);
      assert.equal(analysisJobs(r).length, 1);
      assert.equal(r.created.length, 1);
    });

    it('creates the study from the index when instances were indexed but their events never handled (crash in between)', () => {
      r = rig({ restartGraceSeconds: 0 });
      for (const kind of ['t1', 't2', 'ce-t1'] as const) {
        indexSeries(r.db, { studyInstanceUid: STUDY, kind, seriesNumber: kind.length, receivedAt: () => r.clock.date().toISOString() });
      }
      assert.equal(r.assembler.studies.get({ studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' }), undefined);
      r.restart({ downMs: 2 * S });
      const study = r.assembler.studies.get({ studyInstanceUid: STUDY, calledAeTitle: 'NPCAI' })!;
      assert.equal(study.state, 'receiving');
      assert.equal(study.patientId, 'TEST-PID-1');
      r.clock.advance(19 * S);
      assert.equal(analysisJobs(r).length, 1);
    });

    it('moves a receiving study\'s last_received_at forward from instances whose events were lost', () => {
      r = rig({ restartGraceSeconds: 0 });
      r.send('t1', 1);
      r.send('t2', 2);
      r.clock.advance(15 * S);
      indexSeries(r.db, { studyInstanceUid: STUDY, kind: 'ce-t1', seriesNumber: 3, receivedAt: () => r.clock.date().toISOString() });
      r.restart({ downMs: 10 * S });
      assert.equal(analysisJobs(r).length, 0, 'the quiet time counts from the lost instances, not from the ones handled');
      r.clock.advance(11 * S);
      assert.equal(analysisJobs(r).length, 1);
    });

    it('reopens for re-analysis a complete study with instances received after completion whose events were lost', () => {
      r = rig({ restartGraceSeconds: 0 });
      r.send('t1', 1);
      r.send('t2', 2);
      r.send('ce-t1', 3);
      r.clock.advance(21 * S);
      r.clock.advance(60 * S);
      indexSeries(r.db, { studyInstanceUid: STUDY, kind: 't2', seriesNumber: 7, receivedAt: () => r.clock.date().toISOString() });
      r.restart({ downMs: 60 * S });
      const jobs = analysisJobs(r);
      assert.equal(jobs.length, 2);
      assert.equal(jobs[1]!.generation, 1);
      assert.equal(jobs[1]!.parentJobId, jobs[0]!.id);
      assert.equal(jobs[0]!.state, 'superseded');
    });

    it('requeues an analysis job left running by the crash and keeps the study complete', () => {
      r = rig({ restartGraceSeconds: 0 });
      r.send('t1', 1);
      r.send('t2', 2);
      r.send('ce-t1', 3);
      r.clock.advance(21 * S);
      const claimed = r.jobs.claimNext('analysis')!;
      r.restart({ downMs: S });
      const job = r.jobs.get(claimed.id)!;
      assert.equal(job.state, 'queued');
      assert.equal(job.history.at(-1)!.note, 'interrupted by a restart');
      assert.equal(analysisJobs(r).length, 1);
    });
  });
});

describe('connectAssembler', () => {
  it('forwards the store\'s stored events to the assembler until disconnected', () => {
    const emitter = new EventEmitter();
    const seen: InstanceStoredEvent[] = [];
    const disconnect = connectAssembler(emitter, { onInstanceStored: (e) => seen.push(e) });
    const ev = { instance: makeInstance({ studyInstanceUid: STUDY, seriesInstanceUid: '1.2.3', instanceNumber: 1, receivedAt: new Date(0).toISOString() }), duplicate: false, via: 'stow' as const };
    emitter.emit('stored', ev);
    disconnect();
    emitter.emit('stored', ev);
    assert.deepEqual(seen, [ev]);
    assert.equal(emitter.listenerCount('stored'), 0);
  });

  it('offers the store a batch entry point when the assembler has one', () => {
    const emitter = new EventEmitter();
    const batches: InstanceStoredEvent[][] = [];
    connectAssembler(emitter, { onInstanceStored: () => undefined, onInstancesStored: (evs) => batches.push([...evs]) });
    const l = emitter.listeners('stored')[0] as BatchingStoredListener;
    assert.equal(typeof l.storedBatch, 'function');
    l.storedBatch!([]);
    assert.deepEqual(batches, [[]]);
  });
});
