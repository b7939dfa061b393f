/** Narrowing helpers for analysis results in tests. */
import assert from 'node:assert/strict';
import type { AnalysisResult, AssessedResult } from '../../../src/analyses/types';

export function assessedOf(r: AnalysisResult): AssessedResult {
  assert.ok(r.assessable, `not assessable: ${!r.assessable ? r.reason : ''}`);
  return r;
}

export function reasonOf(r: AnalysisResult): string {
  assert.equal(r.assessable, false, 'expected not assessable');
  return r.assessable ? '' : r.reason;
}
