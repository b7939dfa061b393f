import assert from 'node:assert/strict';
import { AnalysisJobPayloadError, buildAnalysisJobPayload, parseAnalysisJobPayload } from '../../../src/assemble/analysis-job-payload';

const study = { studyInstanceUid: '1.2.3', calledAeTitle: 'NPCAI', callingAeTitle: 'MODALITY' };

describe('analysis job payload', () => {
  it('is built from the study, its series and the completion, and reads back unchanged', () => {
    const payload = buildAnalysisJobPayload({
      study,
      generation: 1,
      reason: 'forced',
      trigger: 'late-instances',
      roles: new Map([['t1', '1.2.3.1']]),
      missingRoles: ['ce-t1'],
      series: [{ instanceCount: 4 }, { instanceCount: 9 }],
      supersedesJobId: 7,
    });
    assert.deepEqual(payload, {
      studyInstanceUid: '1.2.3',
      calledAeTitle: 'NPCAI',
      callingAeTitle: 'MODALITY',
      generation: 1,
      reason: 'forced',
      trigger: 'late-instances',
      roles: { t1: '1.2.3.1' },
      missingRoles: ['ce-t1'],
      seriesCount: 2,
      instanceCount: 13,
      supersedesJobId: 7,
    });
    assert.deepEqual(parseAnalysisJobPayload(JSON.parse(JSON.stringify(payload))), payload);
  });

  it('has empty roles for a requested re-analysis', () => {
    const p = buildAnalysisJobPayload({ study, generation: 2, reason: 'quiet', trigger: 'requested', series: [], supersedesJobId: null });
    assert.deepEqual([p.roles, p.missingRoles, p.seriesCount, p.instanceCount], [{}, [], 0, 0]);
  });

  it('refuses a malformed payload naming each bad field', () => {
    assert.throws(
      () => parseAnalysisJobPayload({ ...study, generation: -1, reason: 'bored', trigger: 'initial', roles: {}, missingRoles: [], seriesCount: 0, instanceCount: 0, supersedesJobId: null }),
      (e: Error) => e instanceof AnalysisJobPayloadError && /generation/.test(e.message) && /reason/.test(e.message),
    );
    assert.throws(() => parseAnalysisJobPayload(null), AnalysisJobPayloadError);
  });
});
