import assert from 'node:assert/strict';
import { measurementGroup, priorStudyItems } from '../../../src/encode/sr/tid-1500-measurement-report';
import type { AssessedResult } from '../../../src/analyses/types';
import { analysisResults, device } from '../../fixtures/encode/analysis-fixture';

const PRIOR_UID = '1.2.826.0.1.3680043.8.498.777';

function progression(priorStudy?: AssessedResult['priorStudy']): AssessedResult {
  const base = analysisResults().find((r): r is AssessedResult => r.assessable)!;
  return { ...base, analysis: 'progression', value: 'high', valueText: 'High risk of progression', group: 'high', ...(priorStudy ? { priorStudy } : {}) };
}

type Item = { ValueType: string; ConceptNameCodeSequence: { CodeValue: string }[]; UID?: string; TextValue?: string };

describe('SR: the prior study a progression result used', () => {
  const ctx = { device: device(), libraryImages: [], trackingUids: { progression: '1.2.826.0.1.3680043.8.498.9' }, heatMaps: [], researchStatement: 'x' };

  it('is a UIDREF and a TEXT date in the progression group, after the risk group', () => {
    const group = measurementGroup(progression({ studyInstanceUid: PRIOR_UID, studyDate: '20230115', source: 'pacs' }), ctx) as unknown as { ContentSequence: Item[] };
    const codes = group.ContentSequence.map((i) => i.ConceptNameCodeSequence[0]!.CodeValue);
    const at = codes.indexOf('NPC-PRIOR-UID');
    assert.ok(at > 0, codes.join(','));
    assert.equal(group.ContentSequence[at]!.ValueType, 'UIDREF');
    assert.equal(group.ContentSequence[at]!.UID, PRIOR_UID);
    assert.equal(codes[at + 1], 'NPC-PRIOR-DATE');
    assert.equal(group.ContentSequence[at + 1]!.TextValue, '2023-01-15');
    assert.equal(codes[at - 1], 'NPC-PROG-GROUP', 'right after the risk group');
  });

  it('is absent without a prior, and the date is left out when unknown', () => {
    assert.deepEqual(priorStudyItems(progression()), []);
    const items = priorStudyItems(progression({ studyInstanceUid: PRIOR_UID, source: 'store' })) as unknown as Item[];
    assert.deepEqual(items.map((i) => i.ValueType), ['UIDREF']);
  });
});
