import assert from 'node:assert/strict';
import { CompletionSchema, type CompletionConfig } from '../../../src/config/schema';
import { arrivalAction, completionDeadlines, decideCompletion, type CompletionStudyState } from '../../../src/assemble/completion-rule';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const S = 1000;
const cfg: CompletionConfig = CompletionSchema.parse({ quietSeconds: 20, forceCompleteSeconds: 600, requiredSeries: ['t1', 't2', 'ce-t1'] });
const receiving: CompletionStudyState = { state: 'receiving', lastReceivedAt: new Date(T0).toISOString(), completedAt: null };
const complete: CompletionStudyState = { state: 'complete', lastReceivedAt: new Date(T0).toISOString(), completedAt: new Date(T0 + 20 * S).toISOString() };
const none = () => [] as string[];
const missingCe = () => ['ce-t1'];

describe('completion rule', () => {
  it('waits for the quiet deadline without resolving series roles before it', () => {
    let resolved = 0;
    const d = decideCompletion({ study: receiving, config: cfg, now: T0 + 19 * S, missingRoles: () => (resolved++, []) });
    assert.deepEqual(d, { action: 'wait', until: T0 + 20 * S });
    assert.equal(resolved, 0, 'roles are resolved only once a deadline has passed');
  });

  it('completes quiet once quietSeconds have passed and every required series is there', () => {
    assert.deepEqual(decideCompletion({ study: receiving, config: cfg, now: T0 + 20 * S, missingRoles: none }), { action: 'complete', reason: 'quiet' });
  });

  it('keeps waiting, until the force deadline, while a required series is missing', () => {
    assert.deepEqual(decideCompletion({ study: receiving, config: cfg, now: T0 + 21 * S, missingRoles: missingCe }), { action: 'wait', until: T0 + 600 * S });
    assert.deepEqual(decideCompletion({ study: receiving, config: cfg, now: T0 + 599 * S, missingRoles: missingCe }), { action: 'wait', until: T0 + 600 * S });
  });

  it('force-completes with what it has at forceCompleteSeconds after the last instance', () => {
    assert.deepEqual(decideCompletion({ study: receiving, config: cfg, now: T0 + 600 * S, missingRoles: missingCe }), { action: 'complete', reason: 'forced' });
  });

  it('force-completes first when forceCompleteSeconds is shorter than quietSeconds', () => {
    const short = { ...cfg, forceCompleteSeconds: 10 };
    assert.deepEqual(decideCompletion({ study: receiving, config: short, now: T0 + 9 * S, missingRoles: none }), { action: 'wait', until: T0 + 10 * S });
    assert.deepEqual(decideCompletion({ study: receiving, config: short, now: T0 + 10 * S, missingRoles: none }), { action: 'complete', reason: 'forced' });
  });

  it('decides nothing before the restart grace, even when a deadline passed while the node was down', () => {
    const notBefore = T0 + 3600 * S + 20 * S;
    assert.deepEqual(decideCompletion({ study: receiving, config: cfg, now: T0 + 3600 * S, notBefore, missingRoles: none }), { action: 'wait', until: notBefore });
    assert.deepEqual(decideCompletion({ study: receiving, config: cfg, now: notBefore, notBefore, missingRoles: none }), { action: 'complete', reason: 'quiet' });
  });

  it('has nothing to decide for a complete or unknown study', () => {
    assert.deepEqual(decideCompletion({ study: complete, config: cfg, now: T0 + 3600 * S, missingRoles: none }), { action: 'none' });
    assert.deepEqual(decideCompletion({ study: undefined, config: cfg, now: T0, missingRoles: none }), { action: 'none' });
  });

  it('counts the deadlines from the last instance', () => {
    assert.deepEqual(completionDeadlines(receiving, cfg), { quietDue: T0 + 20 * S, forceDue: T0 + 600 * S });
  });

  describe('an instance arriving', () => {
    it('creates a study for its first instance and moves a receiving one forward (duplicates too)', () => {
      assert.equal(arrivalAction(undefined, { duplicate: false, receivedAt: new Date(T0).toISOString() }), 'create');
      assert.equal(arrivalAction(receiving, { duplicate: true, receivedAt: new Date(T0 + S).toISOString() }), 'touch');
    });

    it('reopens a complete study for re-analysis when a new instance comes after the completion', () => {
      assert.equal(arrivalAction(complete, { duplicate: false, receivedAt: new Date(T0 + 600 * S).toISOString() }), 'reopen');
    });

    it('leaves a complete study alone for a duplicate or an instance indexed before the completion', () => {
      assert.equal(arrivalAction(complete, { duplicate: true, receivedAt: new Date(T0 + 600 * S).toISOString() }), 'ignore');
      assert.equal(arrivalAction(complete, { duplicate: false, receivedAt: new Date(T0 + 20 * S).toISOString() }), 'ignore');
    });
  });
});
