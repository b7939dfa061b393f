/**
 * Decoding of DICOM text values (PS3.5 section 6.1) from raw bytes into Unicode, for every
 * SpecificCharacterSet the node meets: single-byte sets (ISO_IR 100 ...), UTF-8 (ISO_IR 192),
 * GB18030 / GBK, and the ISO 2022 code-extension sets with escape sequences (ISO 2022 IR 58, 87, 149, ...).
 *
 * Decoding happens once, at ingest (receive/ stores Unicode in header_json), and encode/ writes everything
 * as ISO_IR 192. `decodeDicomText` handles one value, `decodePersonName` one PN value, and
 * `decodeTextAttributes` walks a Part 10 file's top-level text elements so that a receiver can replace
 * dcmjs's (single-set, escape-unaware) decoding with a correct one.
 */
import iconv from 'iconv-lite';
import { hasLongLength } from './value-representations';

/** A naturalized person name, as dcmjs represents one PN value. */
export interface PersonNameComponents {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}

/** How one defined term maps to a decoder. `g0`/`g1`: the ISO 2022 designation it makes when active. */
interface CharsetTerm {
  /** iconv-lite encoding used for bytes in this set (after ISO 2022 normalisation). */
  encoding: string;
  /** Bytes per character in the ISO 2022 representation (1 or 2). */
  width: 1 | 2;
  /** The ISO 2022 escape sequence (after ESC) that designates this set, when it is a code-extension term. */
  escape?: string;
  /** The graphic set it is invoked into: G0 (7-bit, bytes 0x21..0x7E) or G1 (high bit set). */
  target?: 'G0' | 'G1';
}

/** Defined terms of PS3.3 C.12.1.1.2 without code extensions. */
const SINGLE_TERMS: Record<string, CharsetTerm> = {
  '': { encoding: 'ascii', width: 1 },
  ISO_IR_6: { encoding: 'ascii', width: 1 },
  ISO_IR_100: { encoding: 'latin1', width: 1 },
  ISO_IR_101: { encoding: 'iso-8859-2', width: 1 },
  ISO_IR_109: { encoding: 'iso-8859-3', width: 1 },
  ISO_IR_110: { encoding: 'iso-8859-4', width: 1 },
  ISO_IR_144: { encoding: 'iso-8859-5', width: 1 },
  ISO_IR_127: { encoding: 'iso-8859-6', width: 1 },
  ISO_IR_126: { encoding: 'iso-8859-7', width: 1 },
  ISO_IR_138: { encoding: 'iso-8859-8', width: 1 },
  ISO_IR_148: { encoding: 'iso-8859-9', width: 1 },
  ISO_IR_203: { encoding: 'iso-8859-15', width: 1 },
  ISO_IR_13: { encoding: 'shift_jis', width: 1 },
  ISO_IR_166: { encoding: 'tis620', width: 1 },
  ISO_IR_192: { encoding: 'utf8', width: 1 },
  GB18030: { encoding: 'gb18030', width: 1 },
  GBK: { encoding: 'gbk', width: 1 },
};

/** Defined terms with code extensions (ISO 2022), with the escape sequence each one designates. */
const ISO2022_TERMS: Record<string, CharsetTerm> = {
  ISO_2022_IR_6: { encoding: 'ascii', width: 1, escape: '(B', target: 'G0' },
  ISO_2022_IR_100: { encoding: 'latin1', width: 1, escape: '-A', target: 'G1' },
  ISO_2022_IR_101: { encoding: 'iso-8859-2', width: 1, escape: '-B', target: 'G1' },
  ISO_2022_IR_109: { encoding: 'iso-8859-3', width: 1, escape: '-C', target: 'G1' },
  ISO_2022_IR_110: { encoding: 'iso-8859-4', width: 1, escape: '-D', target: 'G1' },
  ISO_2022_IR_144: { encoding: 'iso-8859-5', width: 1, escape: '-L', target: 'G1' },
  ISO_2022_IR_127: { encoding: 'iso-8859-6', width: 1, escape: '-G', target: 'G1' },
  ISO_2022_IR_126: { encoding: 'iso-8859-7', width: 1, escape: '-F', target: 'G1' },
  ISO_2022_IR_138: { encoding: 'iso-8859-8', width: 1, escape: '-H', target: 'G1' },
  ISO_2022_IR_148: { encoding: 'iso-8859-9', width: 1, escape: '-M', target: 'G1' },
  ISO_2022_IR_203: { encoding: 'iso-8859-15', width: 1, escape: '-b', target: 'G1' },
  ISO_2022_IR_166: { encoding: 'tis620', width: 1, escape: '-T', target: 'G1' },
  // JIS X 0201: katakana in G1 (ESC ) I), romaji in G0 (ESC ( J).
  ISO_2022_IR_13: { encoding: 'shift_jis', width: 1, escape: ')I', target: 'G1' },
  // JIS X 0208 in G0 (7-bit pairs; decoded as EUC-JP after setting the high bits).
  ISO_2022_IR_87: { encoding: 'euc-jp', width: 2, escape: '$B', target: 'G0' },
  // JIS X 0212 in G0 (decoded as EUC-JP with the 0x8F single shift).
  ISO_2022_IR_159: { encoding: 'euc-jp', width: 2, escape: '$(D', target: 'G0' },
  // KS X 1001 in G1 (EUC-KR bytes).
  ISO_2022_IR_149: { encoding: 'euc-kr', width: 2, escape: '$)C', target: 'G1' },
  // GB 2312 in G1 (EUC-CN bytes).
  ISO_2022_IR_58: { encoding: 'gb2312', width: 2, escape: '$)A', target: 'G1' },
};

/** Escape sequences understood while decoding, including JIS X 0201 romaji and the ASCII reset. */
const ESCAPES: Record<string, CharsetTerm> = {
  '(J': { encoding: 'ascii', width: 1, target: 'G0' },
};
for (const term of Object.values(ISO2022_TERMS)) ESCAPES[term.escape!] = term;

export class UnsupportedCharacterSetError extends Error {
  constructor(readonly term: string) {
    super(`unsupported SpecificCharacterSet defined term: ${JSON.stringify(term)}`);
    this.name = 'UnsupportedCharacterSetError';
  }
}

function normaliseTerm(term: string): string {
  return term.trim().toUpperCase().replace(/[ -]/g, '_');
}

/** The SpecificCharacterSet values as a list (dcmjs gives a string, an array or nothing). */
export function characterSetTerms(specificCharacterSet: unknown): string[] {
  if (specificCharacterSet === undefined || specificCharacterSet === null) return [''];
  if (Array.isArray(specificCharacterSet)) {
    const terms = specificCharacterSet.map((t) => String(t ?? ''));
    return terms.length === 0 ? [''] : terms;
  }
  return String(specificCharacterSet).split('\\');
}

/** True when the value uses ISO 2022 code extensions (escape sequences may occur). */
export function usesCodeExtensions(specificCharacterSet: unknown): boolean {
  const terms = characterSetTerms(specificCharacterSet).map(normaliseTerm);
  return terms.length > 1 || terms.some((t) => t.startsWith('ISO_2022'));
}

/** Checks that every defined term is one this module can decode; throws UnsupportedCharacterSetError. */
export function assertSupportedCharacterSet(specificCharacterSet: unknown): void {
  for (const raw of characterSetTerms(specificCharacterSet)) {
    const t = normaliseTerm(raw);
    if (!(t in SINGLE_TERMS) && !(t in ISO2022_TERMS)) throw new UnsupportedCharacterSetError(raw);
  }
}

const ESC = 0x1b;

/**
 * Decodes one text value (PN, LO, SH, LT, ST, UT, UC) from raw bytes. Trailing space/NUL padding is removed.
 * Throws UnsupportedCharacterSetError for a term it does not know.
 */
export function decodeDicomText(bytes: Uint8Array, specificCharacterSet: unknown): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const terms = characterSetTerms(specificCharacterSet).map(normaliseTerm);
  assertSupportedCharacterSet(specificCharacterSet);
  let text: string;
  if (!usesCodeExtensions(specificCharacterSet)) {
    const term = SINGLE_TERMS[terms[0]!]!;
    text = term.encoding === 'ascii' ? buf.toString('latin1') : iconv.decode(buf, term.encoding);
  } else {
    text = decodeIso2022(buf, terms);
  }
  return text.replace(/[\0 ]+$/, '');
}

/** ISO 2022 decoding: follow escape sequences, decode each run with the designated set. */
function decodeIso2022(buf: Buffer, terms: string[]): string {
  const first = terms[0] ?? '';
  const initial = ISO2022_TERMS[first] ?? SINGLE_TERMS[first];
  const asciiTerm: CharsetTerm = { encoding: 'ascii', width: 1, target: 'G0' };
  // Initial state (PS3.5 6.1.2.5.3): G0 = ASCII; G1 = the first value's set when it is a G1 set.
  let g0: CharsetTerm = asciiTerm;
  let g1: CharsetTerm | undefined =
    initial?.target === 'G1' || (initial && !initial.target && initial.encoding !== 'ascii') ? initial : undefined;
  if (initial && initial.target === 'G0' && initial.encoding !== 'ascii') g0 = initial;
  const out: string[] = [];
  let i = 0;
  while (i < buf.length) {
    const byte = buf[i]!;
    if (byte === ESC) {
      const seq = matchEscape(buf, i + 1);
      if (seq) {
        const term = ESCAPES[seq]!;
        if (term.target === 'G0') g0 = term;
        else g1 = term;
        i += 1 + seq.length;
        continue;
      }
      out.push('\u001b');
      i += 1;
      continue;
    }
    // Collect a run of bytes decoded by the same set.
    const high = byte >= 0x80;
    let j = i;
    while (j < buf.length && buf[j] !== ESC && (buf[j]! >= 0x80) === high) j++;
    const run = buf.subarray(i, j);
    out.push(high ? decodeG1Run(run, g1) : decodeG0Run(run, g0));
    i = j;
  }
  return out.join('');
}

function matchEscape(buf: Buffer, at: number): string | undefined {
  for (const len of [3, 2]) {
    const seq = buf.subarray(at, at + len).toString('latin1');
    if (seq.length === len && seq in ESCAPES) return seq;
  }
  return undefined;
}

function decodeG0Run(run: Buffer, g0: CharsetTerm): string {
  if (g0.width === 1) return run.toString('latin1');
  // Multi-byte set invoked in G0: 7-bit pairs, but delimiters and control characters stay single bytes.
  const pieces: string[] = [];
  let k = 0;
  while (k < run.length) {
    const b = run[k]!;
    if (b < 0x21 || b === 0x7f || k + 1 >= run.length) {
      pieces.push(String.fromCharCode(b));
      k += 1;
      continue;
    }
    const pair = Buffer.from([b | 0x80, run[k + 1]! | 0x80]);
    const euc = g0.escape === '$(D' ? Buffer.concat([Buffer.from([0x8f]), pair]) : pair;
    pieces.push(iconv.decode(euc, g0.encoding));
    k += 2;
  }
  return pieces.join('');
}

function decodeG1Run(run: Buffer, g1: CharsetTerm | undefined): string {
  if (!g1) return iconv.decode(run, 'latin1');
  return iconv.decode(run, g1.encoding);
}

/** Decodes one PN value into its component groups (Alphabetic=Ideographic=Phonetic). */
export function decodePersonName(bytes: Uint8Array, specificCharacterSet: unknown): PersonNameComponents {
  const text = decodeDicomText(bytes, specificCharacterSet);
  return splitPersonName(text);
}

/** Splits a decoded PN value at '=' into its component groups, dropping empty trailing groups. */
export function splitPersonName(text: string): PersonNameComponents {
  const [alphabetic, ideographic, phonetic] = text.split('=');
  const pn: PersonNameComponents = {};
  if (alphabetic) pn.Alphabetic = alphabetic;
  if (ideographic) pn.Ideographic = ideographic;
  if (phonetic) pn.Phonetic = phonetic;
  return pn;
}

/**
 * Removes ISO 2022 escape sequences and other control characters that a decoder unaware of code extensions
 * (dcmjs) leaves in text, keeping CR/LF/TAB/FF. Used by encoders as a last line of defence.
 */
export function stripControlCharacters(text: string): string {
  return text
    .replace(/\u001b(\$\(D|\$\)[AC]|\$B|[()][BIJ]|-[A-Za-z])/g, '')
    .replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g, '');
}

// ---------------------------------------------------------------------------------------------------------
// Top-level text attributes of a Part 10 file, decoded correctly (for receive/ to store in header_json).

const TEXT_VRS = new Set(['PN', 'LO', 'SH', 'LT', 'ST', 'UT', 'UC']);

export interface DecodedTextAttributes {
  /** keyword -> decoded value: PN as PersonNameComponents[], other text VRs as string or string[]. */
  [keyword: string]: string | string[] | PersonNameComponents[];
}

interface DictionaryEntry {
  name: string;
  vr: string;
}

interface DcmjsDictionary {
  [tag: string]: { vr: string; name: string } | undefined;
}
let dcmjsDictionary: DcmjsDictionary | undefined;

/** The dcmjs data dictionary entry of a tag ("GGGGEEEE", upper-case hex). */
function dictionaryEntry(tag: string): DictionaryEntry | undefined {
  if (!dcmjsDictionary) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    dcmjsDictionary = (require('dcmjs') as { data: { DicomMetaDictionary: { dictionary: DcmjsDictionary } } }).data
      .DicomMetaDictionary.dictionary;
  }
  const entry = dcmjsDictionary[`(${tag.slice(0, 4)},${tag.slice(4)})`];
  return entry ? { name: entry.name, vr: entry.vr } : undefined;
}

/**
 * Reads the top-level PN/LO/SH/LT/ST/UT/UC attributes of a Part 10 file (explicit or implicit VR little
 * endian) and decodes them with the file's SpecificCharacterSet, escape sequences included. Stops at
 * PixelData. Multi-valued LO/SH/PN come back as arrays. Throws on a truncated file or an unknown charset.
 */
export function decodeTextAttributes(part10: Buffer): DecodedTextAttributes {
  if (part10.length < 132 || part10.toString('latin1', 128, 132) !== 'DICM') {
    throw new Error('not a DICOM Part 10 file (no DICM preamble)');
  }
  // File meta is always explicit VR little endian; find the transfer syntax there.
  let offset = 132;
  let transferSyntax = '';
  while (offset + 8 <= part10.length && part10.readUInt16LE(offset) === 0x0002) {
    const el = readElement(part10, offset, true);
    if (el.element === 0x0010) transferSyntax = part10.toString('latin1', el.valueOffset, el.valueOffset + el.length).replace(/[\0 ]+$/, '');
    offset = el.next;
  }
  const explicit = transferSyntax !== '1.2.840.10008.1.2';
  if (transferSyntax === '1.2.840.10008.1.2.2' || transferSyntax === '1.2.840.10008.1.2.1.99') {
    throw new Error(`decodeTextAttributes: transfer syntax ${transferSyntax} not supported`);
  }
  const raw: { keyword: string; vr: string; bytes: Buffer }[] = [];
  let charset: unknown = undefined;
  while (offset + 8 <= part10.length) {
    const el = readElement(part10, offset, explicit);
    if (el.group === 0x7fe0 && el.element === 0x0010) break;
    const key = el.group.toString(16).padStart(4, '0').toUpperCase() + el.element.toString(16).padStart(4, '0').toUpperCase();
    const entry = dictionaryEntry(key);
    const vr = el.vr ?? entry?.vr ?? 'UN';
    if (key === '00080005') {
      charset = part10
        .toString('latin1', el.valueOffset, el.valueOffset + el.length)
        .split('\\')
        .map((t) => t.trim());
    } else if (entry && TEXT_VRS.has(vr) && el.length !== 0xffffffff) {
      raw.push({ keyword: entry.name, vr, bytes: part10.subarray(el.valueOffset, el.valueOffset + el.length) });
    }
    offset = el.next;
  }
  const result: DecodedTextAttributes = {};
  for (const { keyword, vr, bytes } of raw) {
    const text = decodeDicomText(bytes, charset);
    const multi = vr !== 'LT' && vr !== 'ST' && vr !== 'UT';
    const values = multi ? text.split('\\').map((v) => v.trim()) : [text];
    if (vr === 'PN') result[keyword] = values.map(splitPersonName);
    else result[keyword] = values.length === 1 ? values[0]! : values;
  }
  return result;
}

interface RawElement {
  group: number;
  element: number;
  vr?: string;
  length: number;
  valueOffset: number;
  next: number;
}

function readElement(buf: Buffer, offset: number, explicit: boolean): RawElement {
  const group = buf.readUInt16LE(offset);
  const element = buf.readUInt16LE(offset + 2);
  let vr: string | undefined;
  let length: number;
  let valueOffset: number;
  if (explicit && group !== 0xfffe) {
    vr = buf.toString('latin1', offset + 4, offset + 6);
    if (hasLongLength(vr)) {
      length = buf.readUInt32LE(offset + 8);
      valueOffset = offset + 12;
    } else {
      length = buf.readUInt16LE(offset + 6);
      valueOffset = offset + 8;
    }
  } else {
    length = buf.readUInt32LE(offset + 4);
    valueOffset = offset + 8;
  }
  let next: number;
  if (length === 0xffffffff) {
    next = skipUndefinedLength(buf, valueOffset, explicit);
  } else {
    next = valueOffset + length;
  }
  if (next > buf.length) throw new Error(`truncated DICOM element (${group.toString(16)},${element.toString(16)})`);
  return { group, element, vr, length, valueOffset, next };
}

/** Skips a sequence or encapsulated value of undefined length; returns the offset after its delimiter. */
function skipUndefinedLength(buf: Buffer, offset: number, explicit: boolean): number {
  let at = offset;
  while (at + 8 <= buf.length) {
    const group = buf.readUInt16LE(at);
    const element = buf.readUInt16LE(at + 2);
    const length = buf.readUInt32LE(at + 4);
    if (group === 0xfffe && element === 0xe0dd) return at + 8; // sequence delimitation
    if (group === 0xfffe && element === 0xe000) {
      if (length === 0xffffffff) at = skipItemOfUndefinedLength(buf, at + 8, explicit);
      else at = at + 8 + length;
      continue;
    }
    throw new Error('malformed sequence of undefined length');
  }
  throw new Error('truncated sequence of undefined length');
}

function skipItemOfUndefinedLength(buf: Buffer, offset: number, explicit: boolean): number {
  let at = offset;
  while (at + 8 <= buf.length) {
    if (buf.readUInt16LE(at) === 0xfffe && buf.readUInt16LE(at + 2) === 0xe00d) return at + 8; // item delimitation
    at = readElement(buf, at, explicit).next;
  }
  throw new Error('truncated item of undefined length');
}

export interface CharsetDecoder {
  decode(bytes: Uint8Array): string;
}

/** A decoder bound to one (0008,0005) Specific Character Set value, for decoding many values of one data set. */
export function charsetDecoder(terms: readonly string[] | string | undefined): CharsetDecoder {
  const cs = terms === undefined ? undefined : Array.isArray(terms) ? [...terms] : terms;
  // The character set is resolved once, on the first value that decodes (decodeDicomText re-resolves it per
  // value; an unsupported set keeps throwing from there, value by value, as before).
  let resolved: ((buf: Buffer) => string) | undefined;
  return {
    decode: (bytes) => {
      if (resolved) return resolved(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).replace(/[\0 ]+$/, '');
      const text = decodeDicomText(bytes, cs);
      resolved = resolveDecoder(cs);
      return text;
    },
  };
}

/** decodeDicomText's choice of decoding for a supported character set, made once. */
function resolveDecoder(specificCharacterSet: unknown): (buf: Buffer) => string {
  const terms = characterSetTerms(specificCharacterSet).map(normaliseTerm);
  if (usesCodeExtensions(specificCharacterSet)) return (buf) => decodeIso2022(buf, terms);
  const term = SINGLE_TERMS[terms[0]!]!;
  // ISO 8859-1 maps every byte to the code point of its value: Node's latin1 is what iconv's latin1 gives.
  if (term.encoding === 'ascii' || term.encoding === 'latin1') return (buf) => buf.toString('latin1');
  // UTF-8: Node's decoder gives what iconv's does (U+FFFD for each malformed sequence) without iconv's
  // per-call decoder objects; iconv also drops a leading byte order mark, and so does this.
  if (term.encoding === 'utf8') return (buf) => stripBom(buf.toString('utf8'));
  const encoding = term.encoding;
  return (buf) => iconv.decode(buf, encoding);
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
