import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { charsetDecoder } from '../../../src/dicom/charset';
import { BufferSource } from '../../../src/dicom/dataset-scan';
import { validateInstance } from '../../../src/store/instance-validation';
import { encodeFileMeta } from '../../../src/dicom/part10';
import { encodeMrDataset, type MrInstanceSpec } from '../../helpers/mr-fixture';
import { Status } from '../../../src/dicom/status';
import { SopClass, TransferSyntax, deterministicUid } from '../../../src/dicom/uids';

describe('character set decoding', () => {
  it('decodes GB18030 including trail bytes that look like delimiters', () => {
    assert.equal(charsetDecoder(['GB18030']).decode(iconv.encode('王^小东=张', 'gb18030')), '王^小东=张');
  });
  it('decodes ISO 2022 IR 58 with escape sequences and resets at delimiters', () => {
    const esc = Buffer.from([0x1b, 0x24, 0x29, 0x41]);
    const bytes = Buffer.concat([Buffer.from('Wang^Xiao='), esc, iconv.encode('王', 'gb2312'), Buffer.from('^'), esc, iconv.encode('小东', 'gb2312')]);
    assert.equal(charsetDecoder(['', 'ISO 2022 IR 58']).decode(bytes), 'Wang^Xiao=王^小东');
  });
  it('decodes Latin-1 by default and UTF-8 for ISO_IR 192', () => {
    assert.equal(charsetDecoder([]).decode(Buffer.from([0x4d, 0xfc, 0x6c])), 'Mül');
    assert.equal(charsetDecoder(['ISO_IR 192']).decode(Buffer.from('张', 'utf8')), '张');
  });
  it('decodes every UTF-8 value of a data set alike, the first and the later ones (BOM dropped, U+FFFD for malformed bytes)', () => {
    const values = [Buffer.from('Zhang^XiaoDong=张^小东 ', 'utf8'), Buffer.from([0xef, 0xbb, 0xbf, 0x41]), Buffer.from([0x41, 0xe5, 0xbc]), Buffer.from([0xed, 0xa0, 0x80, 0x42]), Buffer.from('Müller\0', 'latin1')];
    // One decoder per data set resolves the character set on its first value; each value is decoded first and then later.
    for (const first of values) {
      const decoder = charsetDecoder(['ISO_IR 192']);
      decoder.decode(first);
      for (const v of values) assert.equal(decoder.decode(v), iconv.decode(v, 'utf8').replace(/[\0 ]+$/, ''), `after ${first.toString('hex')}: ${v.toString('hex')}`);
    }
  });
});

describe('instance validation', () => {
  const accepted = new Set([TransferSyntax.ExplicitVRLittleEndian]);
  const spec: MrInstanceSpec = { studyUid: deterministicUid('a'), seriesUid: deterministicUid('b'), sopUid: deterministicUid('c'), seriesNumber: 1, instanceNumber: 1, seriesDescription: 'AX T1' };
  const file = (s: MrInstanceSpec, cut = 0) => {
    const b = Buffer.concat([encodeFileMeta({ sopClassUid: SopClass.MrImageStorage, sopInstanceUid: s.sopUid, transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian }), encodeMrDataset(s)]);
    return new BufferSource(b.subarray(0, b.length - cut));
  };
  it('accepts a valid MR instance and decodes its header', () => {
    const v = validateInstance(file(spec), { acceptedTransferSyntaxes: accepted });
    assert.ok(v.ok);
    assert.equal(v.header.SeriesDescription, 'AX T1');
    assert.deepEqual(v.header.ImagePositionPatient, [-120, -120, -20]);
  });
  it('refuses a file cut inside PixelData with 0xC000', () => {
    const v = validateInstance(file(spec, 100), { acceptedTransferSyntaxes: accepted });
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.status, Status.CannotUnderstand);
  });
  it('refuses a missing SOPInstanceUID, a SOP class mismatch and an unsupported syntax', () => {
    const noSop = validateInstance(file({ ...spec, overrides: { '00080018': null } }), { acceptedTransferSyntaxes: accepted });
    assert.equal(!noSop.ok && noSop.reason, 'missing SOPInstanceUID');
    const mismatch = validateInstance(file(spec), { acceptedTransferSyntaxes: accepted, affectedSopClassUid: SopClass.EnhancedMrImageStorage });
    assert.equal(!mismatch.ok && mismatch.status, Status.DataSetDoesNotMatchSopClass);
    const ts = validateInstance(file(spec), { acceptedTransferSyntaxes: new Set([TransferSyntax.ImplicitVRLittleEndian]) });
    assert.equal(!ts.ok && ts.status, Status.TransferSyntaxNotSupported);
  });
  it('refuses an unknown SpecificCharacterSet with 0xC000 and names the term (not an internal error)', () => {
    const v = validateInstance(file({ ...spec, overrides: { '00080005': ['CS', 'ISO_IR 999'] } }), { acceptedTransferSyntaxes: accepted });
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.status, Status.CannotUnderstand);
    assert.match(!v.ok ? v.reason : '', /ISO_IR 999/);
  });
});
