import assert from 'node:assert/strict';
import { isValidUid } from '../../../src/dicom/uids';
import { heatMapInstanceUid, outputSeriesUid, reportInstanceUid } from '../../../src/encode/identity';
import { analysisResults, STUDY_UID } from '../../fixtures/encode/analysis-fixture';
import type { AssessedResult } from '../../../src/analyses/types';

describe('encode identity (deterministic UIDs)', () => {
  it('gives the same SR and heat-map UIDs for the same study, analysis versions and generation', () => {
    const a = analysisResults();
    const b = analysisResults();
    assert.equal(reportInstanceUid(STUDY_UID, a, 1), reportInstanceUid(STUDY_UID, b, 1));
    const m = (a[0] as AssessedResult).models;
    assert.equal(heatMapInstanceUid(STUDY_UID, 'stage', m, 1, 0), heatMapInstanceUid(STUDY_UID, 'stage', m, 1, 0));
  });

  it('gives new UIDs for a new generation, another model version, another key image or another study', () => {
    const results = analysisResults();
    const models = (results[0] as AssessedResult).models;
    const base = heatMapInstanceUid(STUDY_UID, 'stage', models, 1, 0);
    const bumped = models.map((m, i) => (i === 0 ? { ...m, version: '1.2.1' } : m));
    const others = [
      heatMapInstanceUid(STUDY_UID, 'stage', models, 2, 0),
      heatMapInstanceUid(STUDY_UID, 'stage', bumped, 1, 0),
      heatMapInstanceUid(STUDY_UID, 'stage', models, 1, 1),
      heatMapInstanceUid('1.2.3', 'stage', models, 1, 0),
    ];
    assert.equal(new Set([base, ...others]).size, 5);
    assert.notEqual(reportInstanceUid(STUDY_UID, results, 1), reportInstanceUid(STUDY_UID, results, 2));
    assert.notEqual(outputSeriesUid(STUDY_UID, 'sr', 1), outputSeriesUid(STUDY_UID, 'sc', 1));
  });

  it('produces valid 2.25 UIDs of at most 64 characters', () => {
    const uids = [reportInstanceUid(STUDY_UID, analysisResults(), 7), outputSeriesUid(STUDY_UID, 'sc', 3)];
    for (const uid of uids) {
      assert.ok(isValidUid(uid), uid);
      assert.ok(uid.startsWith('2.25.'));
    }
  });
});
