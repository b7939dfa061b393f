import assert from 'node:assert/strict';
import { formatDecimalString, numItem, rectanglePolyline, scoordItem, uidrefItem } from '../../../src/encode/sr/content-items';
import { Npc, Ucum, Dcm } from '../../../src/encode/sr/codes';

describe('encode SR content items', () => {
  it('formats DS values in at most 16 characters, rounding instead of truncating', () => {
    assert.equal(formatDecimalString(0.8734519283746152), '0.87345192837462');
    assert.equal(formatDecimalString(0.5), '0.5');
    assert.equal(formatDecimalString(1), '1');
    assert.equal(formatDecimalString(-0.12345678901234567), '-0.1234567890123');
    assert.equal(formatDecimalString(123456789.123456789), '123456789.123457');
    assert.equal(formatDecimalString(1.5e-12), '1.5E-12');
    for (const v of [Math.PI, -Math.E * 1e9, 1 / 3, 2.5e21, 9.99999999999999e-7]) {
      const ds = formatDecimalString(v);
      assert.ok(ds.length <= 16, ds);
      assert.ok(Math.abs(Number(ds) - v) <= Math.abs(v) * 1e-9, `${ds} vs ${v}`);
    }
    assert.throws(() => formatDecimalString(Number.NaN));
  });

  it('writes NUM with a rounded NumericValue and the full FloatingPointValue', () => {
    const item = numItem('CONTAINS', Npc.DmfsRiskScore, 0.66123456789012345, Ucum.NoUnits);
    const mv = (item.MeasuredValueSequence as Record<string, unknown>[])[0]!;
    assert.equal(mv.NumericValue, '0.66123456789012');
    assert.equal(mv.FloatingPointValue, 0.66123456789012345);
  });

  it('draws a region as a closed rectangle polyline selected from the key image', () => {
    const points = rectanglePolyline({ x0: 30, y0: 20, x1: 10, y1: 40 });
    assert.deepEqual(points, [[10, 20], [30, 20], [30, 40], [10, 40], [10, 20]]);
    const item = scoordItem('CONTAINS', Dcm.ImageRegion, 'POLYLINE', points, { sopClassUid: '1.2.840.10008.5.1.4.1.1.4', sopInstanceUid: '1.2.3.4', frameNumber: 2 });
    assert.equal((item.GraphicData as number[]).length, 10);
    const selected = (item.ContentSequence as Record<string, unknown>[])[0]!;
    assert.equal(selected.RelationshipType, 'SELECTED FROM');
    assert.deepEqual(selected.ReferencedSOPSequence, [{ ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.4', ReferencedSOPInstanceUID: '1.2.3.4', ReferencedFrameNumber: 2 }]);
  });

  it('refuses an invalid UID in a UIDREF', () => {
    assert.throws(() => uidrefItem('HAS OBS CONTEXT', Dcm.TrackingUniqueIdentifier, '2.25.0123'), /invalid UID/);
  });
});
