import assert from 'node:assert/strict';
import { openDatabase, type Db } from '../../../src/store/database';
import { DeliveryJobRepository } from '../../../src/jobs/delivery-job-repository';
import { JobStore } from '../../../src/jobs/job-store';
import { tempDir } from '../../helpers/temp-dir';

const T0 = '2026-12-01T10:00:00.000Z';
const T1 = '2026-12-01T10:00:05.000Z';

describe('DeliveryJobRepository', () => {
  let db: Db;
  let repo: DeliveryJobRepository;
  let cleanup: () => void;
  beforeEach(() => {
    const t = tempDir('npcai-delivery-jobs-');
    db = openDatabase(t.dir);
    repo = new DeliveryJobRepository(db);
    cleanup = () => {
      db.close();
      t.cleanup();
    };
  });
  afterEach(() => cleanup());

  const row = (destination: string, study = '1.2.3') => ({
    studyInstanceUid: study,
    calledAeTitle: 'NPCAI',
    parentJobId: null,
    destination,
    payload: { target: { key: destination }, files: [] },
    history: [{ at: T0, event: 'queued' }],
  });

  it('inserts queued delivery jobs in one transaction, visible to the generic JobStore', () => {
    const ids = repo.insertAll([row('a'), row('b')], T0);
    assert.equal(ids.length, 2);
    const r = repo.get(ids[0]!)!;
    assert.deepEqual([r.kind, r.state, r.destination, r.attempts, r.next_attempt_at], ['delivery', 'queued', 'a', 0, T0]);
    assert.equal(new JobStore(db).list({ kind: 'delivery' }).length, 2);
    assert.deepEqual(repo.list({ destination: 'b' }).map((x) => x.id), [ids[1]]);
    assert.deepEqual(repo.list({ state: 'done' }), []);
    assert.equal(repo.list().length, 2);
  });

  it('does not read or claim jobs of other kinds', () => {
    const analysis = new JobStore(db).createAnalysisJob({ studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', generation: 0 });
    assert.equal(repo.get(analysis.id), undefined);
    assert.equal(repo.claim(analysis.id, T0), false);
  });

  it('finds the due job per destination, claims it once, and writes a transition only from the expected state', () => {
    const [a] = repo.insertAll([row('a')], T1);
    assert.deepEqual(repo.queuedDestinations(), [{ destination: 'a', due: T1 }]);
    assert.equal(repo.nextDue('a', T0), undefined, 'not due before next_attempt_at');
    assert.equal(repo.nextDue('a', T1)?.id, a);
    assert.equal(repo.claim(a!, T1), true);
    assert.equal(repo.claim(a!, T1), false);
    const update = { state: 'done' as const, attempts: 1, nextAttemptAt: null, error: null, payload: { files: [] }, result: { sent: 1 }, history: [{ at: T1, event: 'attempt' }] };
    assert.equal(repo.update(a!, 'queued', update, T1), false, 'a stale transition is refused');
    assert.equal(repo.update(a!, 'running', update, T1), true);
    const done = repo.get(a!)!;
    assert.deepEqual([done.state, done.attempts, done.result_json, done.updated_at], ['done', 1, '{"sent":1}', T1]);
  });

  it('re-queues running jobs after a restart, appending to the history', () => {
    const [a, b] = repo.insertAll([row('a'), row('b')], T0);
    repo.claim(a!, T0);
    assert.deepEqual(repo.requeueRunning(T1, 'the node stopped'), [a]);
    const r = repo.get(a!)!;
    assert.equal(r.state, 'queued');
    assert.deepEqual(JSON.parse(r.history_json), [{ at: T0, event: 'queued' }, { at: T1, event: 'requeued', message: 'the node stopped' }]);
    assert.equal(repo.get(b!)!.updated_at, T0);
  });
});
