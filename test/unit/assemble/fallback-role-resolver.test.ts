import assert from 'node:assert/strict';
import { classifySeries, createFallbackRoleResolver } from '../../../src/assemble/fallback-role-resolver';
import type { InstanceHeader } from '../../../src/store/instance-types';
import { seriesHeader, type TestSeriesKind } from '../../helpers/instance-seam';

function header(extra: Partial<InstanceHeader>): InstanceHeader {
  return { SOPClassUID: '', SOPInstanceUID: '', StudyInstanceUID: '', SeriesInstanceUID: '', ...extra };
}
function series(uid: string, kind: TestSeriesKind | Partial<InstanceHeader>, count = 5) {
  const h = typeof kind === 'string' ? seriesHeader(kind, 1) : kind;
  return { seriesInstanceUid: uid, headers: Array.from({ length: count }, () => header(h)) };
}

describe('fallback series-role resolver', () => {
  const resolve = createFallbackRoleResolver();

  it('finds axial T1, T2 and contrast-enhanced T1 and ignores localizer, DWI and sagittal series', () => {
    const roles = resolve([series('1', 't1'), series('2', 't2'), series('3', 'ce-t1'), series('4', 'localizer'), series('5', 'dwi'), series('6', 'sag-t1')]);
    assert.deepEqual(Object.fromEntries(roles), { t1: '1', t2: '2', 'ce-t1': '3' });
  });

  it('judges orientation from ImageOrientationPatient, not from the description', () => {
    const coronal = [1, 0, 0, 0, 0, -1];
    assert.equal(classifySeries(header({ SeriesDescription: 'T2 TRA', ImageOrientationPatient: coronal })), undefined);
    const tilted = [1, 0, 0, 0, Math.cos(0.2), Math.sin(0.2)]; // about 11 degrees
    assert.equal(classifySeries(header({ SeriesDescription: 't2_tse', ImageOrientationPatient: tilted })), 't2');
    assert.equal(classifySeries(header({ SeriesDescription: 'T1 AX' })), 't1', 'description decides only when IOP is missing');
    assert.equal(classifySeries(header({ SeriesDescription: 'T1' })), undefined);
  });

  it('recognises contrast from ContrastBolusAgent or +C, POST, GAD, CE in the description', () => {
    const axial = [1, 0, 0, 0, 1, 0];
    for (const d of ['T1 +C', 'T1_POST', 't1 gad', 'T1_CE_TRA', 'T1 C+ fs']) {
      assert.equal(classifySeries(header({ SeriesDescription: d, ImageOrientationPatient: axial })), 'ce-t1', d);
    }
    assert.equal(classifySeries(header({ SeriesDescription: 'T1', ContrastBolusAgent: 'Gd-DOTA', ImageOrientationPatient: axial })), 'ce-t1');
    assert.equal(classifySeries(header({ SeriesDescription: 'T1 SEQUENCE', ImageOrientationPatient: axial })), 't1');
    assert.equal(classifySeries(header({ SeriesDescription: 'ADC', ImageOrientationPatient: axial })), undefined);
  });

  it('falls back to TR/TE when the description names no weighting', () => {
    const axial = [1, 0, 0, 0, 1, 0];
    assert.equal(classifySeries(header({ SeriesDescription: 'tse', ImageOrientationPatient: axial, RepetitionTime: 550, EchoTime: 12 })), 't1');
    assert.equal(classifySeries(header({ SeriesDescription: 'tse', ImageOrientationPatient: axial, RepetitionTime: 4500, EchoTime: 95 })), 't2');
    assert.equal(classifySeries(header({ SeriesDescription: 'tse', ImageOrientationPatient: axial, RepetitionTime: 1500, EchoTime: 40 })), undefined);
  });

  it('needs minInstances and prefers the series with most instances', () => {
    assert.equal(resolve([series('1', 't1', 2)]).size, 0);
    const roles = resolve([series('small', 't2', 10), series('big', 't2', 30)]);
    assert.equal(roles.get('t2'), 'big');
  });
});
