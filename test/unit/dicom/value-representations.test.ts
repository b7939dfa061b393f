import assert from 'node:assert/strict';
import { LONG_LENGTH_VRS, hasLongLength } from '../../../src/dicom/value-representations';
import { BufferSource } from '../../../src/dicom/dataset-scan';
import { encodeFileMeta, readFileMeta } from '../../../src/dicom/part10';

describe('value representations with a 4-byte length', () => {
  it('are exactly the 13 VRs of PS3.5 Table 7.1-1', () => {
    assert.deepEqual([...LONG_LENGTH_VRS].sort(), ['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
  });

  it('leave the short-length VRs short', () => {
    for (const vr of ['AE', 'CS', 'DA', 'DS', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'UI', 'UL', 'US', 'FD', 'FL', 'AT']) assert.equal(hasLongLength(vr), false, vr);
  });
});

describe('readFileMeta', () => {
  const meta = (sourceAeTitle?: string) =>
    encodeFileMeta({ sopClassUid: '1.2.840.10008.5.1.4.1.1.4', sopInstanceUid: '1.2.3.4', transferSyntaxUid: '1.2.840.10008.1.2.1', sourceAeTitle });

  it('reads the transfer syntax and the Source AE Title (0002,0016) without its padding', () => {
    const m = readFileMeta(new BufferSource(meta('MRSCANNER')));
    assert.equal(m.transferSyntaxUid, '1.2.840.10008.1.2.1');
    assert.equal(m.mediaStorageSopInstanceUid, '1.2.3.4');
    assert.equal(m.sourceApplicationEntityTitle, 'MRSCANNER');
  });

  it('carries who received it: Sending (0002,0017) and Receiving (0002,0018) Application Entity Title', () => {
    const bytes = encodeFileMeta({ sopClassUid: '1.2.840.10008.5.1.4.1.1.4', sopInstanceUid: '1.2.3.4', transferSyntaxUid: '1.2.840.10008.1.2.1', sourceAeTitle: 'MRI', receivingAeTitle: 'NPCAI' });
    const m = readFileMeta(new BufferSource(bytes));
    assert.equal(m.sourceApplicationEntityTitle, 'MRI');
    assert.equal(m.sendingApplicationEntityTitle, 'MRI');
    assert.equal(m.receivingApplicationEntityTitle, 'NPCAI');
    assert.equal(m.datasetOffset, bytes.length);
    assert.equal(readFileMeta(new BufferSource(meta('MRI'))).receivingApplicationEntityTitle, undefined);
  });

  it('has no Source AE Title when the file meta has none', () => {
    const bytes = meta();
    const m = readFileMeta(new BufferSource(bytes));
    assert.equal(m.sourceApplicationEntityTitle, undefined);
    assert.equal(m.datasetOffset, bytes.length);
  });
});
