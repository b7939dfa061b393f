import assert from 'node:assert/strict';
import { openDatabase, type Db } from '../../../src/store/database';
import { JobStore } from '../../../src/jobs/job-store';
import { FakeClock } from '../../helpers/fake-clock';
import { tempDir } from '../../helpers/temp-dir';

describe('JobStore', () => {
  let db: Db;
  let clock: FakeClock;
  let jobs: JobStore;
  let cleanup: () => void;
  beforeEach(() => {
    const t = tempDir('npcai-jobs-');
    db = openDatabase(t.dir);
    clock = new FakeClock();
    jobs = new JobStore(db, { now: clock.date });
    cleanup = () => {
      db.close();
      t.cleanup();
    };
  });
  afterEach(() => cleanup());

  it('claims the oldest queued job of a kind atomically, once', () => {
    const a = jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 0 });
    clock.advance(1);
    jobs.create({ kind: 'delivery', studyInstanceUid: '1.2.3', parentJobId: a.id, destination: 'pacs1' });
    clock.advance(1);
    jobs.createAnalysisJob({ studyInstanceUid: '1.2.4', calledAeTitle: 'NPCAI', generation: 0 });
    const first = jobs.claimNext('analysis')!;
    assert.equal(first.id, a.id);
    assert.equal(first.state, 'running');
    assert.equal(first.attempts, 1);
    assert.deepEqual(first.history.map((h) => [h.from, h.to]), [[null, 'queued'], ['queued', 'running']]);
    const second = jobs.claimNext('analysis')!;
    assert.equal(second.studyInstanceUid, '1.2.4');
    assert.equal(jobs.claimNext('analysis'), undefined);
    assert.equal(jobs.claimNext('delivery')!.destination, 'pacs1');
  });

  it('refuses a second analysis job for the same study generation', () => {
    jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 0 });
    assert.throws(() => jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 0 }), /UNIQUE/);
    jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'OTHER', generation: 0 });
    jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 1 });
    assert.equal(jobs.count({ kind: 'analysis' }), 3);
  });

  it('completes a running job with its result and records every transition in the history', () => {
    const j = jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 0, payload: { a: 1 } });
    assert.equal(jobs.complete(j.id, { x: 1 }), undefined, 'a queued job cannot complete');
    jobs.claimNext('analysis');
    clock.advance(5000);
    const done = jobs.complete(j.id, { stage: 'T3N1M0' })!;
    assert.equal(done.state, 'done');
    assert.deepEqual(done.result, { stage: 'T3N1M0' });
    assert.deepEqual(done.payload, { a: 1 });
    assert.equal(done.history.length, 3);
    assert.equal(done.history[2]!.at, clock.date().toISOString());
    assert.equal(done.history[2]!.from, 'running');
    assert.equal(done.history[2]!.to, 'done');
  });

  it('fails retryable jobs to failed (claimed again after retryAt) and others to dead', () => {
    const j = jobs.create({ kind: 'delivery', studyInstanceUid: '1.2.3' });
    jobs.claimNext('delivery');
    const failed = jobs.fail(j.id, 'association rejected', true, { retryAt: new Date(clock.now() + 10_000) })!;
    assert.equal(failed.state, 'failed');
    assert.equal(failed.error, 'association rejected');
    assert.equal(failed.history.at(-1)!.error, 'association rejected');
    assert.equal(jobs.claimNext('delivery'), undefined, 'not before retryAt');
    clock.advance(10_000);
    const again = jobs.claimNext('delivery')!;
    assert.equal(again.attempts, 2);
    assert.equal(jobs.fail(j.id, 'still down', true, { maxAttempts: 2 })!.state, 'dead');
    const k = jobs.create({ kind: 'delivery', studyInstanceUid: '1.2.3' });
    jobs.claimNext('delivery');
    assert.equal(jobs.fail(k.id, 'bad destination', false)!.state, 'dead');
    const manual = jobs.create({ kind: 'delivery', studyInstanceUid: '1.2.3' });
    jobs.claimNext('delivery');
    jobs.fail(manual.id, 'x', true);
    clock.advance(3600_000);
    assert.equal(jobs.claimNext('delivery'), undefined, 'a failed job without retryAt waits for a manual retry');
  });

  it('retries failed and dead jobs, refuses others, and says when the job is unknown', () => {
    const j = jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 0 });
    assert.deepEqual(jobs.retry(j.id), { ok: false, reason: 'not-retryable', state: 'queued' });
    jobs.claimNext('analysis');
    jobs.fail(j.id, 'model error', false);
    const r = jobs.retry(j.id, 'retry requested through the admin API');
    assert.ok(r.ok);
    assert.equal(r.job.state, 'queued');
    assert.equal(r.job.history.at(-1)!.note, 'retry requested through the admin API');
    assert.equal(jobs.claimNext('analysis')!.attempts, 2);
    assert.deepEqual(jobs.retry(9999), { ok: false, reason: 'not-found' });
  });

  it('requeues jobs of the given kind left running by a crash (others are left to their owner), and supersedes those replaced meanwhile', () => {
    const a = jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 0 });
    const d = jobs.create({ kind: 'delivery', studyInstanceUid: '1.2.9' });
    jobs.claimNext('analysis');
    jobs.claimNext('delivery');
    const b = jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 1, parentJobId: a.id });
    jobs.supersedeEarlierAnalyses('1.2.3', 'NPCAI', 1, b.id);
    assert.equal(jobs.get(a.id)!.state, 'running', 'a running job is not interrupted by supersession');
    assert.deepEqual(jobs.requeueInterrupted(), [a.id]);
    assert.equal(jobs.get(a.id)!.state, 'superseded');
    assert.equal(jobs.get(d.id)!.state, 'running', 'delivery jobs are re-queued by the outbox itself');
    assert.deepEqual(jobs.requeueInterrupted('delivery'), [d.id]);
    assert.equal(jobs.get(d.id)!.state, 'queued');
    assert.equal(jobs.get(d.id)!.history.at(-1)!.note, 'interrupted by a restart');
  });

  it('supersedes earlier analyses and their unfinished deliveries, keeping finished ones', () => {
    const a = jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 0 });
    jobs.claimNext('analysis');
    jobs.complete(a.id, { sr: '2.25.1' });
    const sent = jobs.create({ kind: 'delivery', studyInstanceUid: '1.2.3', parentJobId: a.id, destination: 'pacs1' });
    jobs.claimNext('delivery');
    jobs.complete(sent.id, {});
    const pending = jobs.create({ kind: 'delivery', studyInstanceUid: '1.2.3', parentJobId: a.id, destination: 'pacs2' });
    const b = jobs.createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 1, parentJobId: a.id });
    const touched = jobs.supersedeEarlierAnalyses('1.2.3', 'NPCAI', 1, b.id);
    assert.deepEqual(touched, [a.id, pending.id]);
    const old = jobs.get(a.id)!;
    assert.equal(old.state, 'superseded');
    assert.equal(old.supersededBy, b.id);
    assert.deepEqual(old.result, { sr: '2.25.1' }, 'the replaced result stays readable for the successor to reference');
    assert.equal(jobs.get(sent.id)!.state, 'done');
    assert.equal(jobs.get(pending.id)!.state, 'superseded');
    assert.equal(jobs.claimNext('delivery'), undefined);
    assert.deepEqual(jobs.retry(a.id), { ok: false, reason: 'not-retryable', state: 'superseded' });
  });

  it('lists by state, kind and study, newest first, with paging', () => {
    for (let i = 0; i < 5; i++) jobs.createAnalysisJob({ studyInstanceUid: `1.2.${i % 2}`, calledAeTitle: 'NPCAI', generation: i });
    jobs.create({ kind: 'delivery', studyInstanceUid: '1.2.0' });
    assert.equal(jobs.list({ study: '1.2.0' }).length, 4);
    assert.equal(jobs.list({ kind: 'analysis', study: '1.2.0' }).length, 3);
    const page = jobs.list({ kind: 'analysis', limit: 2, offset: 1 });
    assert.deepEqual(page.map((j) => j.generation), [3, 2]);
    assert.equal(jobs.count({ state: 'queued' }), 6);
    assert.throws(() => jobs.create({ kind: 'Bad Kind', studyInstanceUid: '1' }), /invalid job kind/);
  });
});
