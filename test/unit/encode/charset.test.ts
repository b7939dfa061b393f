import assert from 'node:assert/strict';
import {
  decodeDicomText,
  decodePersonName,
  decodeTextAttributes,
  stripControlCharacters,
  UnsupportedCharacterSetError,
} from '../../../src/dicom/charset';

/** Raw bytes from a hex string with optional spaces (fixtures follow PS3.5 Annex H where it has examples). */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}
const ESC_GB2312 = '1b2429 41'; // ESC $ ) A
const ESC_KSX1001 = '1b2429 43'; // ESC $ ) C
const ESC_JIS0208 = '1b24 42'; // ESC $ B
const ESC_ASCII = '1b28 42'; // ESC ( B

describe('charset: decoding DICOM text from raw bytes', () => {
  it('decodes a GB18030 person name into Unicode component groups', () => {
    const bytes = hex('57616e675e5869616f446f6e67 3d cdf5 5e d0a1b6ab');
    assert.deepEqual(decodePersonName(bytes, 'GB18030'), { Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' });
  });

  it('decodes ISO 2022 IR 58 (GB 2312 in G1) with escape sequences before each ideographic run', () => {
    // PS3.5 H.3.2: Zhang^XiaoDong=张^小东= with SpecificCharacterSet "\ISO 2022 IR 58"
    const bytes = hex(`5a68616e675e5869616f446f6e67 3d ${ESC_GB2312} d5c5 5e ${ESC_GB2312} d0a1b6ab 3d 20`);
    assert.equal(decodeDicomText(bytes, ['', 'ISO 2022 IR 58']), 'Zhang^XiaoDong=张^小东=');
    assert.deepEqual(decodePersonName(bytes, ['', 'ISO 2022 IR 58']), { Alphabetic: 'Zhang^XiaoDong', Ideographic: '张^小东' });
  });

  it('decodes ISO 2022 IR 87 (JIS X 0208 in G0, 7-bit pairs) and returns to ASCII after ESC ( B', () => {
    // PS3.5 H.3.1: Yamada^Tarou=山田^太郎=やまだ^たろう
    const bytes = hex(
      `59616d6164615e5461726f75 3d ${ESC_JIS0208} 3b334544 ${ESC_ASCII} 5e ${ESC_JIS0208} 42404f3a ${ESC_ASCII} 3d ` +
        `${ESC_JIS0208} 2464245e2440 ${ESC_ASCII} 5e ${ESC_JIS0208} 243f246d2426 ${ESC_ASCII}`,
    );
    assert.deepEqual(decodePersonName(bytes, ['', 'ISO 2022 IR 87']), {
      Alphabetic: 'Yamada^Tarou',
      Ideographic: '山田^太郎',
      Phonetic: 'やまだ^たろう',
    });
  });

  it('decodes ISO 2022 IR 149 (KS X 1001 in G1)', () => {
    const bytes = hex(`486f6e675e47696c646f6e67 3d ${ESC_KSX1001} fbf3 5e ${ESC_KSX1001} d1ced4d7 3d ${ESC_KSX1001} c8ab 5e ${ESC_KSX1001} b1e6b5bf`);
    assert.deepEqual(decodePersonName(bytes, ['', 'ISO 2022 IR 149']), { Alphabetic: 'Hong^Gildong', Ideographic: '洪^吉洞', Phonetic: '홍^길동' });
  });

  it('decodes ISO_IR 100 (Latin-1) and ISO_IR 192 (UTF-8)', () => {
    assert.equal(decodeDicomText(hex('4275635e4ae972f46d65'), 'ISO_IR 100'), 'Buc^Jérôme');
    assert.equal(decodeDicomText(Buffer.from('Buc^Jérôme=王^小东 ', 'utf8'), 'ISO_IR 192'), 'Buc^Jérôme=王^小东');
  });

  it('treats a missing SpecificCharacterSet as the default repertoire and strips padding', () => {
    assert.equal(decodeDicomText(Buffer.from('DOE^JOHN \0', 'latin1'), undefined), 'DOE^JOHN');
  });

  it('rejects an unknown defined term with UnsupportedCharacterSetError', () => {
    assert.throws(() => decodeDicomText(Buffer.from('x'), 'ISO_IR 999'), UnsupportedCharacterSetError);
  });

  it('strips escape sequences that a code-extension-unaware decoder left in text', () => {
    assert.equal(stripControlCharacters('Zhang^XiaoDong=\u001b$)A张^\u001b$)A小东='), 'Zhang^XiaoDong=张^小东=');
  });

  it('decodes the top-level text attributes of a Part 10 file, skipping sequences', () => {
    const file = part10([
      element(0x0008, 0x0005, 'CS', Buffer.from('\\ISO 2022 IR 58')),
      element(0x0008, 0x1030, 'LO', hex(`${ESC_GB2312} b1c7d1ca`)), // 鼻咽
      sequence(0x0008, 0x1140, [element(0x0008, 0x1150, 'UI', Buffer.from('1.2.3\0'))]),
      element(0x0010, 0x0010, 'PN', hex(`5a68616e675e5869616f446f6e67 3d ${ESC_GB2312} d5c5 5e ${ESC_GB2312} d0a1b6ab 3d 20`)),
      element(0x0010, 0x0020, 'LO', Buffer.from('NPC-1 ')),
    ]);
    const decoded = decodeTextAttributes(file);
    assert.deepEqual(decoded.PatientName, [{ Alphabetic: 'Zhang^XiaoDong', Ideographic: '张^小东' }]);
    assert.equal(decoded.StudyDescription, '鼻咽');
    assert.equal(decoded.PatientID, 'NPC-1');
  });

  it('refuses a buffer that is not Part 10', () => {
    assert.throws(() => decodeTextAttributes(Buffer.alloc(200)), /not a DICOM Part 10 file/);
  });
});

// A minimal explicit VR little endian Part 10 writer for raw-byte fixtures.
function element(group: number, el: number, vr: string, value: Buffer): Buffer {
  const padded = value.length % 2 ? Buffer.concat([value, Buffer.from(vr === 'UI' ? '\0' : ' ')]) : value;
  const header = Buffer.alloc(8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(el, 2);
  header.write(vr, 4, 'latin1');
  header.writeUInt16LE(padded.length, 6);
  return Buffer.concat([header, padded]);
}
function sequence(group: number, el: number, itemElements: Buffer[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(el, 2);
  header.write('SQ', 4, 'latin1');
  header.writeUInt32LE(0xffffffff, 8);
  const item = Buffer.alloc(8);
  item.writeUInt16LE(0xfffe, 0);
  item.writeUInt16LE(0xe000, 2);
  item.writeUInt32LE(0xffffffff, 4);
  const itemEnd = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
  const seqEnd = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  return Buffer.concat([header, item, ...itemElements, itemEnd, seqEnd]);
}
function part10(elements: Buffer[]): Buffer {
  const meta = element(0x0002, 0x0010, 'UI', Buffer.from('1.2.840.10008.1.2.1'));
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), meta, ...elements]);
}
