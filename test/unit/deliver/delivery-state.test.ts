import assert from 'node:assert/strict';
import type { DeliveryFileState, DeliveryJob } from '../../../src/deliver/delivery-job';
import { nextDeliveryState, pendingFiles, retryDeliveryState, type AttemptReport, type DeliveryPolicy } from '../../../src/deliver/delivery-state';

const NOW = new Date('2026-12-01T10:00:00.000Z');
const POLICY: DeliveryPolicy = { maxAttempts: 3, initialBackoffSeconds: 10, maxBackoffSeconds: 3600 };
const file = (n: number, state: DeliveryFileState['state'] = 'pending', extra: Partial<DeliveryFileState> = {}): DeliveryFileState => ({
  path: `results/1.2.3/1.2.3.${n}.dcm`,
  sopInstanceUid: `1.2.3.${n}`,
  sopClassUid: '1.2.840.10008.5.1.4.1.1.7',
  state,
  ...extra,
});

function job(over: Partial<DeliveryJob> = {}): DeliveryJob {
  return {
    id: 7,
    kind: 'delivery',
    state: 'running',
    studyInstanceUid: '1.2.3',
    calledAeTitle: 'NPCAI',
    parentJobId: null,
    destination: 'pacs',
    target: { type: 'dimse', key: 'pacs', origin: 'destination', aeTitle: 'PACS', host: '127.0.0.1', port: 104, callingAeTitle: 'NPCAI' },
    files: [file(1), file(2)],
    attempts: 0,
    nextAttemptAt: null,
    error: null,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    history: [{ at: NOW.toISOString(), event: 'queued' }],
    ...over,
  };
}
const report = (over: Partial<AttemptReport>): AttemptReport => ({ results: [], interrupted: false, elapsedMs: 12, ...over });
const ok = (n: number) => ({ sopInstanceUid: `1.2.3.${n}`, ok: true, status: 0, message: 'Success' });
const bad = (n: number, permanent = false) => ({ sopInstanceUid: `1.2.3.${n}`, ok: false, status: 0xa700, message: 'Out of resources', ...(permanent ? { permanent } : {}) });

describe('delivery state transitions', () => {
  it('is done when every instance is stored, and says how many in the history', () => {
    const t = nextDeliveryState(job(), report({ results: [ok(1), ok(2)] }), POLICY, NOW);
    assert.equal(t.state, 'done');
    assert.equal(t.attempts, 1);
    assert.equal(t.error, null);
    assert.equal(t.nextAttemptAt, null);
    assert.deepEqual(t.files.map((f) => [f.state, f.sentAt]), [['sent', NOW.toISOString()], ['sent', NOW.toISOString()]]);
    assert.deepEqual(t.result, { sent: 2, failed: 0, total: 2 });
    assert.deepEqual(t.history.at(-1), { at: NOW.toISOString(), event: 'attempt', attempt: 1, sent: 2, failed: 0, message: 'stored 2 instance(s) in 12 ms' });
  });

  it('queues a transient failure again after the backoff, keeping what was stored', () => {
    const t = nextDeliveryState(job(), report({ results: [ok(1), bad(2)] }), POLICY, NOW, () => 1);
    assert.equal(t.state, 'queued');
    assert.equal(t.attempts, 1);
    // First failure: base 10 s; random() = 1 gives the whole base.
    assert.equal(t.nextAttemptAt, new Date(NOW.getTime() + 10_000).toISOString());
    assert.equal(t.error, 'Out of resources');
    assert.deepEqual(t.files.map((f) => f.state), ['sent', 'failed']);
    assert.deepEqual(t.history.slice(-2).map((h) => h.event), ['attempt', 'retry-scheduled']);

    // The next attempt sends only the failed instance and doubles the backoff on failure.
    const second = { ...job(), files: t.files, attempts: t.attempts, history: t.history };
    assert.deepEqual(pendingFiles(second).map((f) => f.sopInstanceUid), ['1.2.3.2']);
    const t2 = nextDeliveryState(second, report({ results: [bad(2)] }), POLICY, NOW, () => 1);
    assert.equal(t2.nextAttemptAt, new Date(NOW.getTime() + 20_000).toISOString());
    assert.equal(t2.history.at(-2)?.sent, 0, 'instances stored earlier are not counted again');
  });

  it('fails a job at once when every failure is permanent', () => {
    const t = nextDeliveryState(job(), report({ results: [bad(1, true), bad(2, true)] }), POLICY, NOW);
    assert.equal(t.state, 'failed');
    assert.equal(t.nextAttemptAt, null);
    assert.equal(t.history.at(-1)?.event, 'failed');
  });

  it('retries when only some failures are permanent', () => {
    assert.equal(nextDeliveryState(job(), report({ results: [bad(1, true), bad(2)] }), POLICY, NOW).state, 'queued');
  });

  it('gives up (dead) when the attempts reach maxAttempts', () => {
    const t = nextDeliveryState(job({ attempts: 2 }), report({ error: 'connect ECONNREFUSED 127.0.0.1:104' }), POLICY, NOW);
    assert.equal(t.state, 'dead');
    assert.equal(t.attempts, 3);
    assert.equal(t.error, 'connect ECONNREFUSED 127.0.0.1:104');
    assert.deepEqual(t.files.map((f) => [f.state, f.message]), [
      ['failed', 'connect ECONNREFUSED 127.0.0.1:104'],
      ['failed', 'connect ECONNREFUSED 127.0.0.1:104'],
    ]);
    assert.deepEqual(t.history.at(-1), { at: NOW.toISOString(), event: 'dead', message: 'gave up after 3 attempts' });
  });

  it('does not count an attempt the outbox interrupted, and queues it for now', () => {
    const t = nextDeliveryState(job({ attempts: 2 }), report({ interrupted: true, error: 'aborted' }), POLICY, NOW);
    assert.deepEqual([t.state, t.attempts, t.nextAttemptAt], ['queued', 2, NOW.toISOString()]);
    assert.equal(t.history.at(-1)?.event, 'interrupted');
  });

  it('judges permanence by this attempt only (a retried permanent failure that now fails transiently is retried)', () => {
    const earlier = job({ files: [file(1, 'pending', { permanent: true, message: 'HTTP 404' })] });
    const t = nextDeliveryState(earlier, report({ error: 'connect ECONNREFUSED' }), POLICY, NOW);
    assert.equal(t.state, 'queued');
    assert.equal(t.files[0]!.permanent, undefined);
  });

  it('retries a dead or failed job from a fresh attempt count, keeping stored instances', () => {
    const dead = job({ state: 'dead', attempts: 3, error: 'x', files: [file(1, 'sent'), file(2, 'failed', { message: 'x' })] });
    const r = retryDeliveryState(dead, NOW);
    assert.ok(r.ok);
    assert.equal(r.update.state, 'queued');
    assert.equal(r.update.attempts, 0);
    assert.equal(r.update.nextAttemptAt, NOW.toISOString());
    assert.deepEqual(r.update.payload.files.map((f) => f.state), ['sent', 'pending']);
    assert.deepEqual(r.update.history.at(-1), { at: NOW.toISOString(), event: 'retry', message: 'manual retry from dead' });
    const failed = retryDeliveryState(job({ state: 'failed', attempts: 1 }), NOW);
    assert.ok(failed.ok && failed.update.attempts === 0);
  });

  it('brings a queued job forward without resetting its attempts, and refuses running or done jobs', () => {
    const q = retryDeliveryState(job({ state: 'queued', attempts: 2 }), NOW);
    assert.ok(q.ok && q.update.attempts === 2);
    for (const state of ['running', 'done', 'superseded'] as const) {
      const r = retryDeliveryState(job({ state }), NOW);
      assert.deepEqual(r, { ok: false, message: `delivery job 7 is ${state}; only dead, failed or queued jobs can be retried` });
    }
  });
});
