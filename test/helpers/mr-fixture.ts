/**
 * Small, valid MR Image Storage instances for tests: a three-series study (axial T1, T2, CE-T1) with
 * realistic geometry and acquisition headers, written byte by byte (explicit VR little endian) so that
 * text can carry any character set (GB18030, ISO 2022 IR 58, UTF-8) and files can be broken on purpose.
 * Other syntaxes are made with DCMTK / GDCM (see transcode()).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { encodeFileMeta } from '../../src/dicom/part10';
import { SopClass, TransferSyntax, deterministicUid } from '../../src/dicom/uids';

export type Value = string | Buffer | string[] | { us: number[] };

export interface MrInstanceSpec {
  studyUid: string;
  seriesUid: string;
  sopUid: string;
  seriesNumber: number;
  instanceNumber: number;
  seriesDescription: string;
  rows?: number;
  columns?: number;
  contrast?: boolean;
  /** Raw bytes of (0008,0005) and (0010,0010), e.g. from chineseName(). Defaults: ISO_IR 192, ASCII name. */
  specificCharacterSet?: string;
  patientNameBytes?: Buffer;
  /** Extra or replacing elements: tag (8 hex digits) -> [VR, value]; value null removes the element. */
  overrides?: Record<string, [string, Value] | null>;
  /** Pixel bytes to drop from the end of PixelData (with its length field left consistent). */
  truncatePixels?: number;
  sopClassUid?: string;
  seed?: number;
}

const LONG_VRS = new Set(['OB', 'OW', 'SQ', 'UN', 'UT', 'UC', 'UR', 'OF', 'OD', 'OL']);

function pad(buf: Buffer, vr: string): Buffer {
  if (buf.length % 2 === 0) return buf;
  const p = vr === 'UI' || vr === 'OB' ? 0x00 : 0x20;
  return Buffer.concat([buf, Buffer.from([p])]);
}

function valueBytes(vr: string, v: Value): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (Array.isArray(v)) return Buffer.from(v.join('\\'), 'latin1');
  const b = Buffer.alloc(v.us.length * 2);
  v.us.forEach((n, i) => b.writeUInt16LE(n, i * 2));
  return b;
}

export function encodeElement(tag: string, vr: string, v: Value): Buffer {
  const value = pad(valueBytes(vr, v), vr);
  const t = parseInt(tag, 16);
  const long = LONG_VRS.has(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(t >>> 16, 0);
  h.writeUInt16LE(t & 0xffff, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(value.length, 8);
  else h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

/** A deterministic pseudo-random 16-bit image (a bright disc on noise). */
function pixels(rows: number, cols: number, seed: number): Buffer {
  const b = Buffer.alloc(rows * cols * 2);
  let s = seed >>> 0 || 1;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      const inside = (x - cols / 2) ** 2 + (y - rows / 2) ** 2 < (rows / 4) ** 2;
      b.writeUInt16LE((inside ? 800 : 100) + (s >>> 24), (y * cols + x) * 2);
    }
  }
  return b;
}

/** The data set (explicit VR little endian, no file meta) of one MR instance. */
export function encodeMrDataset(spec: MrInstanceSpec): Buffer {
  const rows = spec.rows ?? 64;
  const cols = spec.columns ?? 64;
  const z = (spec.instanceNumber - 1) * 5 - 20;
  const els: Record<string, [string, Value] | null> = {
    '00080005': ['CS', spec.specificCharacterSet !== undefined ? Buffer.from(spec.specificCharacterSet, 'latin1') : 'ISO_IR 192'],
    '00080008': ['CS', ['ORIGINAL', 'PRIMARY', 'M', 'NONE']],
    '00080016': ['UI', spec.sopClassUid ?? SopClass.MrImageStorage],
    '00080018': ['UI', spec.sopUid],
    '00080020': ['DA', '20240315'],
    '00080030': ['TM', '101500'],
    '00080050': ['SH', 'ACC0001'],
    '00080060': ['CS', 'MR'],
    '00080070': ['LO', 'SIEMENS'],
    '00080090': ['PN', ''],
    '00081030': ['LO', 'MR NASOPHARYNX'],
    '0008103E': ['LO', spec.seriesDescription],
    '00081090': ['LO', 'Skyra'],
    '00100010': ['PN', spec.patientNameBytes ?? 'TEST^PATIENT'],
    '00100020': ['LO', 'PID0001'],
    '00100030': ['DA', '19700101'],
    '00100040': ['CS', 'M'],
    '00101010': ['AS', '054Y'],
    '00180015': ['CS', 'HEAD'],
    '00180020': ['CS', spec.seriesDescription.includes('T2') ? 'SE' : ['SE', 'IR']],
    '00180021': ['CS', 'SK'],
    '00180022': ['CS', ''],
    '00180023': ['CS', '2D'],
    '00180091': ['IS', spec.seriesDescription.includes('T2') ? '16' : '3'],
    '00185100': ['CS', 'HFS'],
    '00201040': ['LO', ''],
    '00180050': ['DS', '5'],
    '00180080': ['DS', spec.seriesDescription.includes('T2') ? '4000' : '550'],
    '00180081': ['DS', spec.seriesDescription.includes('T2') ? '96' : '9.8'],
    '00180087': ['DS', '3'],
    '00180088': ['DS', '5'],
    '00181030': ['LO', spec.seriesDescription],
    '0020000D': ['UI', spec.studyUid],
    '0020000E': ['UI', spec.seriesUid],
    '00200010': ['SH', '1'],
    '00200011': ['IS', String(spec.seriesNumber)],
    '00200013': ['IS', String(spec.instanceNumber)],
    '00200032': ['DS', ['-120', '-120', String(z)]],
    '00200037': ['DS', ['1', '0', '0', '0', '1', '0']],
    '00200052': ['UI', deterministicUid(`for-${spec.studyUid}`)],
    '00280002': ['US', { us: [1] }],
    '00280004': ['CS', 'MONOCHROME2'],
    '00280010': ['US', { us: [rows] }],
    '00280011': ['US', { us: [cols] }],
    '00280030': ['DS', ['0.9375', '0.9375']],
    '00280100': ['US', { us: [16] }],
    '00280101': ['US', { us: [12] }],
    '00280102': ['US', { us: [11] }],
    '00280103': ['US', { us: [0] }],
    '00281052': ['DS', '0'],
    '00281053': ['DS', '1'],
  };
  if (spec.contrast) els['00180010'] = ['LO', 'GADOVIST'];
  if (!spec.seriesDescription.includes('T2')) els['00180082'] = ['DS', '800'];
  Object.assign(els, spec.overrides ?? {});
  let px = pixels(rows, cols, spec.seed ?? spec.instanceNumber * 7919 + spec.seriesNumber);
  if (spec.truncatePixels) px = px.subarray(0, px.length - spec.truncatePixels);
  if (!('7FE00010' in (spec.overrides ?? {}))) els['7FE00010'] = ['OW', px];
  const parts = Object.keys(els)
    .filter((k) => els[k] !== null)
    .sort((a, b) => parseInt(a, 16) - parseInt(b, 16))
    .map((k) => encodeElement(k, els[k]![0], els[k]![1]));
  return Buffer.concat(parts);
}

/** Writes a Part 10 file (explicit VR little endian) for `spec`. */
export function writeMrInstance(file: string, spec: MrInstanceSpec): string {
  mkdirSync(path.dirname(file), { recursive: true });
  const meta = encodeFileMeta({
    sopClassUid: spec.sopClassUid ?? SopClass.MrImageStorage,
    sopInstanceUid: spec.sopUid,
    transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
  });
  writeFileSync(file, Buffer.concat([meta, encodeMrDataset(spec)]));
  return file;
}

export interface MrStudy {
  studyUid: string;
  files: string[];
  series: Array<{ seriesUid: string; description: string; files: string[] }>;
}

/** A study of three axial series (T1, T2, CE-T1), `slices` instances each. */
export function writeMrStudy(dir: string, opts: { slices?: number; name?: string; rows?: number; columns?: number; patch?: (s: MrInstanceSpec) => MrInstanceSpec } = {}): MrStudy {
  const slices = opts.slices ?? 3;
  const name = opts.name ?? 'study';
  const studyUid = deterministicUid(`${name}-study`);
  const defs = [
    { description: 'AX T1 SE', contrast: false },
    { description: 'AX T2 TSE FS', contrast: false },
    { description: 'AX T1 SE +C', contrast: true },
  ];
  const series = defs.map((d, si) => {
    const seriesUid = deterministicUid(`${name}-series-${si}`);
    const files: string[] = [];
    for (let i = 1; i <= slices; i++) {
      let spec: MrInstanceSpec = {
        studyUid,
        seriesUid,
        sopUid: deterministicUid(`${name}-sop-${si}-${i}`),
        seriesNumber: si + 1,
        instanceNumber: i,
        seriesDescription: d.description,
        contrast: d.contrast,
        rows: opts.rows,
        columns: opts.columns,
      };
      if (opts.patch) spec = opts.patch(spec);
      files.push(writeMrInstance(path.join(dir, `s${si + 1}`, `i${i}.dcm`), spec));
    }
    return { seriesUid, description: d.description, files };
  });
  return { studyUid, files: series.flatMap((s) => s.files), series };
}

/** PN bytes in a Chinese character set: 'Zhang^San=张^三' with the right encoding / escapes. */
export function chineseName(charset: 'GB18030' | 'ISO 2022 IR 58' | 'ISO_IR 192'): { specificCharacterSet: string; patientNameBytes: Buffer; expected: { Alphabetic: string; Ideographic: string } } {
  const expected = { Alphabetic: 'Zhang^XiaoDong', Ideographic: '张^小东' };
  if (charset === 'GB18030') {
    return { specificCharacterSet: 'GB18030', patientNameBytes: Buffer.concat([Buffer.from('Zhang^XiaoDong='), iconv.encode('张^小东', 'gb18030')]), expected };
  }
  if (charset === 'ISO 2022 IR 58') {
    const esc = Buffer.from([0x1b, 0x24, 0x29, 0x41]); // ESC $ ) A: GB 2312 in G1
    const gb = (s: string) => Buffer.concat([esc, iconv.encode(s, 'gb2312')]);
    return {
      specificCharacterSet: '\\ISO 2022 IR 58',
      patientNameBytes: Buffer.concat([Buffer.from('Zhang^XiaoDong='), gb('张'), Buffer.from('^'), gb('小东')]),
      expected,
    };
  }
  return { specificCharacterSet: 'ISO_IR 192', patientNameBytes: Buffer.from('Zhang^XiaoDong=张^小东', 'utf8'), expected };
}

/** Data set bytes of a Part 10 file (after the File Meta Information group). */
export function datasetBytes(file: Buffer): Buffer {
  let pos = 132;
  while (pos + 8 <= file.length && file.readUInt16LE(pos) === 0x0002) {
    const vr = file.toString('latin1', pos + 4, pos + 6);
    const long = LONG_VRS.has(vr);
    const len = long ? file.readUInt32LE(pos + 8) : file.readUInt16LE(pos + 6);
    pos += (long ? 12 : 8) + len;
  }
  return file.subarray(pos);
}

export type SyntaxName = 'explicit-le' | 'implicit-le' | 'explicit-be' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg-ls-near' | 'j2k-lossless' | 'j2k' | 'rle';

export const SYNTAX_UIDS: Record<SyntaxName, string> = {
  'explicit-le': TransferSyntax.ExplicitVRLittleEndian,
  'implicit-le': TransferSyntax.ImplicitVRLittleEndian,
  'explicit-be': TransferSyntax.ExplicitVRBigEndian,
  'jpeg-lossless': TransferSyntax.JpegLosslessSv1,
  'jpeg-ls': TransferSyntax.JpegLsLossless,
  'jpeg-ls-near': TransferSyntax.JpegLsNearLossless,
  'j2k-lossless': TransferSyntax.Jpeg2000Lossless,
  j2k: TransferSyntax.Jpeg2000,
  rle: TransferSyntax.RleLossless,
};

/** Re-encodes an explicit-LE file into `syntax` with DCMTK or GDCM. */
export function transcode(src: string, dst: string, syntax: SyntaxName): string {
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });
  switch (syntax) {
    case 'explicit-le':
      run('dcmconv', ['+te', src, dst]);
      break;
    case 'implicit-le':
      run('dcmconv', ['+ti', src, dst]);
      break;
    case 'explicit-be':
      run('dcmconv', ['+tb', src, dst]);
      break;
    case 'jpeg-lossless':
      run('dcmcjpeg', ['+e1', src, dst]);
      break;
    case 'jpeg-ls':
      run('dcmcjpls', ['+el', src, dst]);
      break;
    case 'jpeg-ls-near':
      run('dcmcjpls', ['+en', '+un', src, dst]);
      break;
    case 'j2k-lossless':
    case 'j2k':
      // GDCM encodes; DCMTK rewrites the file in its own canonical encoding, which is what storescu sends.
      run('gdcmconv', syntax === 'j2k' ? ['--j2k', '--lossy', '-q', '50', src, `${dst}.gdcm`] : ['--j2k', src, `${dst}.gdcm`]);
      run('dcmconv', [`${dst}.gdcm`, dst]);
      break;
    case 'rle':
      run('dcmcrle', [src, dst]);
      break;
  }
  return dst;
}
