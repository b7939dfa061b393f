/**
 * The header attributes the index keeps (InstanceHeader), decoded from a scanned data set into the shape
 * dcmjs naturalizes them to (VM 1 scalar, VM > 1 array, DS/IS numbers, PN [{Alphabetic, Ideographic,
 * Phonetic}]), with text decoded per Specific Character Set, ISO 2022 escapes included.
 */
import type { InstanceHeader } from '../core/instance-header';
import { charsetDecoder, type CharsetDecoder } from './charset';
import { scanSequenceItems, type ByteSource, type ElementRef, type ScanResult } from './dataset-scan';

type Vr = 'CS' | 'UI' | 'DA' | 'TM' | 'AS' | 'SH' | 'LO' | 'PN' | 'DS' | 'IS' | 'US' | 'FD';

/** tag -> [keyword, VR]; VRs are fixed by the dictionary, so implicit VR files decode the same way. */
const HEADER_ATTRIBUTES: ReadonlyArray<[number, string, Vr]> = [
  [0x00080005, 'SpecificCharacterSet', 'CS'],
  [0x00080008, 'ImageType', 'CS'],
  [0x00080016, 'SOPClassUID', 'UI'],
  [0x00080018, 'SOPInstanceUID', 'UI'],
  [0x00080020, 'StudyDate', 'DA'],
  [0x00080021, 'SeriesDate', 'DA'],
  [0x00080030, 'StudyTime', 'TM'],
  [0x00080031, 'SeriesTime', 'TM'],
  [0x00080050, 'AccessionNumber', 'SH'],
  [0x00080060, 'Modality', 'CS'],
  [0x00080070, 'Manufacturer', 'LO'],
  [0x00080080, 'InstitutionName', 'LO'],
  [0x00080090, 'ReferringPhysicianName', 'PN'],
  [0x00081030, 'StudyDescription', 'LO'],
  [0x0008103e, 'SeriesDescription', 'LO'],
  [0x00081090, 'ManufacturerModelName', 'LO'],
  [0x00100010, 'PatientName', 'PN'],
  [0x00100020, 'PatientID', 'LO'],
  [0x00100021, 'IssuerOfPatientID', 'LO'],
  [0x00100030, 'PatientBirthDate', 'DA'],
  [0x00100040, 'PatientSex', 'CS'],
  [0x00101010, 'PatientAge', 'AS'],
  [0x00180010, 'ContrastBolusAgent', 'LO'],
  [0x00180015, 'BodyPartExamined', 'CS'],
  [0x00180020, 'ScanningSequence', 'CS'],
  [0x00180021, 'SequenceVariant', 'CS'],
  [0x00180022, 'ScanOptions', 'CS'],
  [0x00180050, 'SliceThickness', 'DS'],
  [0x00180080, 'RepetitionTime', 'DS'],
  [0x00180081, 'EchoTime', 'DS'],
  [0x00180082, 'InversionTime', 'DS'],
  [0x00180087, 'MagneticFieldStrength', 'DS'],
  [0x00180088, 'SpacingBetweenSlices', 'DS'],
  [0x00181030, 'ProtocolName', 'LO'],
  [0x0020000d, 'StudyInstanceUID', 'UI'],
  [0x0020000e, 'SeriesInstanceUID', 'UI'],
  [0x00200010, 'StudyID', 'SH'],
  [0x00200011, 'SeriesNumber', 'IS'],
  [0x00200013, 'InstanceNumber', 'IS'],
  [0x00200032, 'ImagePositionPatient', 'DS'],
  [0x00200037, 'ImageOrientationPatient', 'DS'],
  [0x00200052, 'FrameOfReferenceUID', 'UI'],
  [0x00280002, 'SamplesPerPixel', 'US'],
  [0x00280004, 'PhotometricInterpretation', 'CS'],
  [0x00280008, 'NumberOfFrames', 'IS'],
  [0x00280010, 'Rows', 'US'],
  [0x00280011, 'Columns', 'US'],
  [0x00280030, 'PixelSpacing', 'DS'],
  [0x00280100, 'BitsAllocated', 'US'],
  [0x00280101, 'BitsStored', 'US'],
  [0x00280102, 'HighBit', 'US'],
  [0x00280103, 'PixelRepresentation', 'US'],
  [0x00281052, 'RescaleIntercept', 'DS'],
  [0x00281053, 'RescaleSlope', 'DS'],
];

/** Keywords of the attributes the header holds (for documentation and tests). */
export const HEADER_KEYWORDS: readonly string[] = HEADER_ATTRIBUTES.map(([, k]) => k);

export class AttributeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttributeError';
  }
}

/** Decodes the header attributes present in `scan`. Throws AttributeError for values that cannot be parsed. */
export function decodeHeader(src: ByteSource, scan: ScanResult): Partial<InstanceHeader> {
  const out: Record<string, unknown> = {};
  const little = scan.syntax.littleEndian;
  const charsetRef = scan.elements.get(0x00080005);
  const charsetTerms = charsetRef ? splitValues(src.read(charsetRef.valueOffset, charsetRef.length).toString('latin1')).map((s) => s.trim()) : [];
  const decoder = charsetDecoder(charsetTerms);
  for (const [tag, keyword, vr] of HEADER_ATTRIBUTES) {
    const ref = scan.elements.get(tag);
    if (!ref || ref.length === 0) continue;
    if (ref.length > 64 * 1024) throw new AttributeError(`${keyword} is ${ref.length} bytes long`);
    const bytes = src.read(ref.valueOffset, ref.length);
    const value = decodeValue(bytes, vr, keyword, little, decoder);
    if (value !== undefined) out[keyword] = value;
  }
  Object.assign(out, decodeFunctionalGroups(src, scan, decoder, out));
  return out as Partial<InstanceHeader>;
}

/** Functional group macros (PS3.3 C.7.6.16) kept from Enhanced MR headers: sequence -> its attributes. */
const FUNCTIONAL_GROUP_MACROS: ReadonlyArray<[number, string, ReadonlyArray<[number, string, Vr]>]> = [
  [0x00209113, 'PlanePositionSequence', [[0x00200032, 'ImagePositionPatient', 'DS']]],
  [0x00209116, 'PlaneOrientationSequence', [[0x00200037, 'ImageOrientationPatient', 'DS']]],
  [
    0x00289110,
    'PixelMeasuresSequence',
    [
      [0x00280030, 'PixelSpacing', 'DS'],
      [0x00180050, 'SliceThickness', 'DS'],
      [0x00180088, 'SpacingBetweenSlices', 'DS'],
    ],
  ],
  [
    0x00289145,
    'PixelValueTransformationSequence',
    [
      [0x00281052, 'RescaleIntercept', 'DS'],
      [0x00281053, 'RescaleSlope', 'DS'],
    ],
  ],
  [0x00189112, 'MRTimingAndRelatedParametersSequence', [[0x00180080, 'RepetitionTime', 'DS']]],
  [0x00189114, 'MREchoSequence', [[0x00189082, 'EffectiveEchoTime', 'FD']]],
];
const SHARED_FUNCTIONAL_GROUPS = 0x52009229;
const PER_FRAME_FUNCTIONAL_GROUPS = 0x52009230;

/**
 * Enhanced (multi-frame) MR keeps geometry in functional groups, not at the top level. The header keeps
 * SharedFunctionalGroupsSequence and the FIRST item of PerFrameFunctionalGroupsSequence, reduced to the
 * macros above (naturalized: [{ PlaneOrientationSequence: [{ ImageOrientationPatient: [...] }] }]), and,
 * where the top level lacks them, the first frame's ImagePositionPatient, ImageOrientationPatient,
 * PixelSpacing and SliceThickness (per-frame value first, then shared), so readers of classic headers
 * (series selection, completion) see the plane.
 */
function decodeFunctionalGroups(src: ByteSource, scan: ScanResult, decoder: CharsetDecoder, top: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const groups: Array<[number, string]> = [
    [SHARED_FUNCTIONAL_GROUPS, 'SharedFunctionalGroupsSequence'],
    [PER_FRAME_FUNCTIONAL_GROUPS, 'PerFrameFunctionalGroupsSequence'],
  ];
  const decoded: Record<string, Record<string, unknown>> = {};
  for (const [tag, keyword] of groups) {
    const ref = scan.elements.get(tag);
    if (!ref || ref.length === 0) continue;
    const first = scanSequenceItems(src, ref, scan.syntax, 1)[0];
    if (!first) continue;
    const item: Record<string, unknown> = {};
    for (const [macroTag, macroKeyword, attrs] of FUNCTIONAL_GROUP_MACROS) {
      const macroRef = first.get(macroTag);
      if (!macroRef || macroRef.length === 0) continue;
      const macroItem = scanSequenceItems(src, macroRef, scan.syntax, 1)[0];
      if (!macroItem) continue;
      const values = decodeAttributes(src, macroItem, attrs, scan.syntax.littleEndian, decoder);
      if (Object.keys(values).length > 0) item[macroKeyword] = [values];
    }
    decoded[keyword] = item;
    out[keyword] = [item];
  }
  const fromGroups = (macro: string, attr: string): unknown => {
    for (const g of ['PerFrameFunctionalGroupsSequence', 'SharedFunctionalGroupsSequence']) {
      const m = decoded[g]?.[macro] as Array<Record<string, unknown>> | undefined;
      const v = m?.[0]?.[attr];
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const firstFrame: Array<[string, string]> = [
    ['PlanePositionSequence', 'ImagePositionPatient'],
    ['PlaneOrientationSequence', 'ImageOrientationPatient'],
    ['PixelMeasuresSequence', 'PixelSpacing'],
    ['PixelMeasuresSequence', 'SliceThickness'],
  ];
  for (const [macro, attr] of firstFrame) {
    if (top[attr] !== undefined) continue;
    const v = fromGroups(macro, attr);
    if (v !== undefined) out[attr] = v;
  }
  return out;
}

function decodeAttributes(src: ByteSource, els: Map<number, ElementRef>, attrs: ReadonlyArray<[number, string, Vr]>, little: boolean, decoder: CharsetDecoder): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [tag, keyword, vr] of attrs) {
    const ref = els.get(tag);
    if (!ref || ref.length === 0 || ref.length === 0xffffffff) continue;
    if (ref.length > 64 * 1024) throw new AttributeError(`${keyword} is ${ref.length} bytes long`);
    const value = decodeValue(src.read(ref.valueOffset, ref.length), vr, keyword, little, decoder);
    if (value !== undefined) out[keyword] = value;
  }
  return out;
}

function splitValues(s: string): string[] {
  return s.indexOf('\\') === -1 ? [s] : s.split('\\');
}

/** s without NUL characters, trimmed (the common case, no NUL, without a regular expression). */
function clean(s: string): string {
  return (s.indexOf('\0') === -1 ? s : s.replace(/\0/g, '')).trim();
}

function vmShape<T>(values: T[]): T | T[] | undefined {
  if (values.length === 0) return undefined;
  return values.length === 1 ? values[0] : values;
}

function decodeValue(bytes: Buffer, vr: Vr, keyword: string, little: boolean, decoder: CharsetDecoder): unknown {
  switch (vr) {
    case 'FD': {
      if (bytes.length % 8 !== 0) throw new AttributeError(`${keyword} (FD) has length ${bytes.length}`);
      const values: number[] = [];
      for (let i = 0; i < bytes.length; i += 8) values.push(little ? bytes.readDoubleLE(i) : bytes.readDoubleBE(i));
      return vmShape(values);
    }
    case 'US': {
      if (bytes.length % 2 !== 0) throw new AttributeError(`${keyword} (US) has odd length ${bytes.length}`);
      const values: number[] = [];
      for (let i = 0; i < bytes.length; i += 2) values.push(little ? bytes.readUInt16LE(i) : bytes.readUInt16BE(i));
      return vmShape(values);
    }
    case 'DS':
    case 'IS': {
      const parts = splitValues(bytes.toString('latin1')).map(clean);
      if (parts.every((p) => p === '')) return undefined;
      const values = parts.map((p) => {
        const n = Number(p);
        if (p === '' || !Number.isFinite(n) || (vr === 'IS' && !Number.isInteger(n))) {
          throw new AttributeError(`${keyword} (${vr}) has an invalid value "${p.slice(0, 32)}"`);
        }
        return n;
      });
      // dcmjs keeps arrays for these multi-valued geometry attributes even when VM is as expected.
      return vmShape(values);
    }
    case 'UI': {
      const s = bytes.toString('latin1').replace(/\0+$/, '').trim();
      return s === '' ? undefined : vmShape(splitValues(s));
    }
    case 'CS':
    case 'DA':
    case 'TM':
    case 'AS': {
      const parts = splitValues(bytes.toString('latin1')).map(clean);
      if (parts.every((p) => p === '')) return undefined;
      return vmShape(parts);
    }
    case 'SH':
    case 'LO': {
      const parts = splitValues(decoder.decode(bytes)).map(clean);
      if (parts.every((p) => p === '')) return undefined;
      return vmShape(parts);
    }
    case 'PN': {
      const text = decoder.decode(bytes).replace(/[\0 ]+$/, '');
      if (text === '') return undefined;
      return splitValues(text).map((name) => {
        const [alphabetic, ideographic, phonetic] = name.split('=').map((g) => g.trim());
        const pn: Record<string, string> = {};
        if (alphabetic) pn.Alphabetic = alphabetic;
        if (ideographic) pn.Ideographic = ideographic;
        if (phonetic) pn.Phonetic = phonetic;
        return pn;
      });
    }
  }
}
