/**
 * The study completion rule, as pure functions of the study's stored state, its AE title's completion
 * settings and the time: no timers, no SQLite. StudyAssembler applies them (docs/study-completion.md).
 */
import type { CompletionConfig } from '../config/schema';
import type { CompletionReason, StudyRecord } from './study-repository';

/** What the rule reads of a study row. */
export type CompletionStudyState = Pick<StudyRecord, 'state' | 'lastReceivedAt' | 'completedAt'>;

export type CompletionDecision =
  /** The study is not receiving (complete, or unknown): nothing to decide. */
  | { action: 'none' }
  /** Decide again at `until` (ms since the epoch). */
  | { action: 'wait'; until: number }
  | { action: 'complete'; reason: CompletionReason };

export interface CompletionInput {
  study: CompletionStudyState | undefined;
  config: CompletionConfig;
  /** Milliseconds since the epoch. */
  now: number;
  /** No decision before this time (the restart grace), ms since the epoch. */
  notBefore?: number;
  /**
   * Required roles (config.requiredSeries) the series received so far do not fill. Called only once a
   * deadline has passed, so the (costly) series-role resolution runs once per decision, not per instance.
   */
  missingRoles: () => readonly string[];
}

/** Deadlines counted from the last instance: quiet (complete if nothing is missing) and force (complete anyway). */
export function completionDeadlines(study: Pick<StudyRecord, 'lastReceivedAt'>, config: CompletionConfig): { quietDue: number; forceDue: number } {
  const last = Date.parse(study.lastReceivedAt);
  const base = Number.isFinite(last) ? last : 0;
  return { quietDue: base + config.quietSeconds * 1000, forceDue: base + config.forceCompleteSeconds * 1000 };
}

/** When a receiving study is first worth deciding: the earlier deadline, not before the grace floor. */
export function firstDecisionTime(study: Pick<StudyRecord, 'lastReceivedAt'>, config: CompletionConfig, notBefore = 0): number {
  const { quietDue, forceDue } = completionDeadlines(study, config);
  return Math.max(Math.min(quietDue, forceDue), notBefore);
}

/**
 * A receiving study completes `quiet` when every required role is present and quietSeconds have passed
 * since its last instance, `forced` when forceCompleteSeconds have passed (whatever is missing);
 * otherwise it waits (for the first deadline, then for the force deadline).
 */
export function decideCompletion(input: CompletionInput): CompletionDecision {
  const { study, config, now } = input;
  if (!study || study.state !== 'receiving') return { action: 'none' };
  const floor = input.notBefore ?? 0;
  const { quietDue, forceDue } = completionDeadlines(study, config);
  const firstDue = Math.max(Math.min(quietDue, forceDue), floor);
  if (now < firstDue) return { action: 'wait', until: firstDue };
  if (now >= quietDue && input.missingRoles().length === 0) return { action: 'complete', reason: 'quiet' };
  if (now >= forceDue) return { action: 'complete', reason: 'forced' };
  return { action: 'wait', until: Math.max(forceDue, floor) };
}

export type ArrivalAction =
  /** First instance of this study reception: a new receiving study, generation 0. */
  | 'create'
  /** The study is receiving: last_received_at moves forward. */
  | 'touch'
  /** New content for a complete study: receiving again with generation + 1 (re-analysis). */
  | 'reopen'
  /** Nothing changes (a duplicate, or an instance indexed before the completion decision). */
  | 'ignore';

/** What an instance stored for a study does to the study's state. */
export function arrivalAction(study: CompletionStudyState | undefined, instance: { duplicate: boolean; receivedAt: string }): ArrivalAction {
  if (!study) return 'create';
  if (study.state === 'receiving') return 'touch';
  // Complete: only new content reopens it. A duplicate changes nothing; an instance indexed before the
  // completion decision (its event merely arrived late) was already part of that decision.
  if (instance.duplicate) return 'ignore';
  const receivedAt = Date.parse(instance.receivedAt);
  if (study.completedAt && Number.isFinite(receivedAt) && receivedAt <= Date.parse(study.completedAt)) return 'ignore';
  return 'reopen';
}
