/**
 * A strict, allocation-light walker over an encoded DICOM data set (PS3.5 7): it finds the top-level
 * elements and their value positions, walks sequences and encapsulated pixel data item by item, and
 * reports truncation or malformed structure as a ScanError instead of guessing. Values are not decoded
 * here (see header-attributes.ts); the bytes stay exactly as received.
 */
import { hasLongLength } from './value-representations';

export class ScanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScanError';
  }
}

/** Random access to the bytes of a file or buffer. */
export interface ByteSource {
  readonly length: number;
  /** `len` bytes from `pos`; throws ScanError when they are not all there. */
  read(pos: number, len: number): Buffer;
}

export class BufferSource implements ByteSource {
  constructor(private readonly buf: Buffer) {}
  get length(): number {
    return this.buf.length;
  }
  read(pos: number, len: number): Buffer {
    if (pos < 0 || len < 0 || pos + len > this.buf.length) throw new ScanError(`data set truncated: needs bytes ${pos}..${pos + len}, has ${this.buf.length}`);
    return this.buf.subarray(pos, pos + len);
  }
}

export interface Syntax {
  explicitVr: boolean;
  littleEndian: boolean;
}

export interface ElementRef {
  tag: number;
  /** The VR as encoded (explicit syntaxes) or undefined (implicit). */
  vr: string | undefined;
  /** Offset of the value's first byte. */
  valueOffset: number;
  /** Value length; UNDEFINED_LENGTH for sequences / encapsulated data of undefined length. */
  length: number;
}

export interface PixelDataInfo {
  valueOffset: number;
  /** Byte length of a native value, or total bytes of the fragments for encapsulated data. */
  length: number;
  encapsulated: boolean;
  /** Fragments after the basic offset table (encapsulated only). */
  fragments: number;
}

export interface ScanResult {
  /** Top-level elements by tag ((group << 16) | element, unsigned). */
  elements: Map<number, ElementRef>;
  pixelData?: PixelDataInfo;
  syntax: Syntax;
}

export const UNDEFINED_LENGTH = 0xffffffff;
export const TAG_PIXEL_DATA = 0x7fe00010;
const TAG_ITEM = 0xfffee000;
const TAG_ITEM_DELIMITER = 0xfffee00d;
const TAG_SEQUENCE_DELIMITER = 0xfffee0dd;
const MAX_DEPTH = 32;
const IMPLICIT_LE: Syntax = { explicitVr: false, littleEndian: true };

interface Header {
  tag: number;
  vr: string | undefined;
  length: number;
  valueOffset: number;
}

function readHeader(src: ByteSource, pos: number, syntax: Syntax): Header {
  const h = src.read(pos, 8);
  const group = syntax.littleEndian ? h.readUInt16LE(0) : h.readUInt16BE(0);
  const element = syntax.littleEndian ? h.readUInt16LE(2) : h.readUInt16BE(2);
  const tag = ((group << 16) | element) >>> 0;
  if (group === 0xfffe || !syntax.explicitVr) {
    const length = syntax.littleEndian ? h.readUInt32LE(4) : h.readUInt32BE(4);
    return { tag, vr: undefined, length, valueOffset: pos + 8 };
  }
  const c0 = h[4]!;
  const c1 = h[5]!;
  if (c0 < 0x41 || c0 > 0x5a || c1 < 0x41 || c1 > 0x5a) throw new ScanError(`invalid VR bytes at offset ${pos + 4} (tag ${tagString(tag)})`);
  const vr = String.fromCharCode(c0, c1);
  if (hasLongLength(vr)) {
    const l = src.read(pos + 8, 4);
    return { tag, vr, length: syntax.littleEndian ? l.readUInt32LE(0) : l.readUInt32BE(0), valueOffset: pos + 12 };
  }
  return { tag, vr, length: syntax.littleEndian ? h.readUInt16LE(6) : h.readUInt16BE(6), valueOffset: pos + 8 };
}

export function tagString(tag: number): string {
  const hex = tag.toString(16).toUpperCase().padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/** Walks the data set from `start` to the end of `src`. Throws ScanError on malformed or truncated data. */
export function scanDataset(src: ByteSource, start: number, syntax: Syntax): ScanResult {
  const elements = new Map<number, ElementRef>();
  let pixelData: PixelDataInfo | undefined;
  let pos = start;
  while (pos < src.length) {
    if (src.length - pos < 8) {
      // Trailing padding shorter than an element header: treat as truncation.
      throw new ScanError(`data set truncated: ${src.length - pos} stray bytes at the end`);
    }
    const h = readHeader(src, pos, syntax);
    if ((h.tag >>> 16) === 0xfffe) throw new ScanError(`unexpected item tag ${tagString(h.tag)} at top level (offset ${pos})`);
    if (h.tag === TAG_PIXEL_DATA) {
      if (h.length === UNDEFINED_LENGTH) {
        const enc = walkEncapsulated(src, h.valueOffset, syntax);
        pixelData = { valueOffset: h.valueOffset, length: enc.bytes, encapsulated: true, fragments: enc.fragments };
        pos = enc.end;
      } else {
        ensure(src, h.valueOffset, h.length, h.tag);
        pixelData = { valueOffset: h.valueOffset, length: h.length, encapsulated: false, fragments: 0 };
        pos = h.valueOffset + h.length;
      }
    } else {
      pos = skipValue(src, h, syntax, 0);
    }
    elements.set(h.tag, { tag: h.tag, vr: h.vr, valueOffset: h.valueOffset, length: h.length });
  }
  return { elements, pixelData, syntax };
}

function ensure(src: ByteSource, offset: number, length: number, tag: number): void {
  if (offset + length > src.length) {
    throw new ScanError(`data set truncated: ${tagString(tag)} declares ${length} bytes at offset ${offset}, only ${src.length - offset} present`);
  }
}

/** Returns the offset just past the element whose header is `h`. */
function skipValue(src: ByteSource, h: Header, syntax: Syntax, depth: number): number {
  if (h.length !== UNDEFINED_LENGTH) {
    ensure(src, h.valueOffset, h.length, h.tag);
    return h.valueOffset + h.length;
  }
  if (depth >= MAX_DEPTH) throw new ScanError(`sequences nested deeper than ${MAX_DEPTH}`);
  // Undefined length: a sequence (SQ, or UN holding an implicit VR little endian sequence, PS3.5 6.2.2).
  const itemSyntax = h.vr === 'UN' ? IMPLICIT_LE : syntax;
  let pos = h.valueOffset;
  for (;;) {
    const item = readHeader(src, pos, itemSyntax);
    if (item.tag === TAG_SEQUENCE_DELIMITER) return item.valueOffset;
    if (item.tag !== TAG_ITEM) throw new ScanError(`expected an item in ${tagString(h.tag)} at offset ${pos}, found ${tagString(item.tag)}`);
    if (item.length !== UNDEFINED_LENGTH) {
      ensure(src, item.valueOffset, item.length, item.tag);
      pos = item.valueOffset + item.length;
      continue;
    }
    pos = item.valueOffset;
    for (;;) {
      const e = readHeader(src, pos, itemSyntax);
      if (e.tag === TAG_ITEM_DELIMITER) {
        pos = e.valueOffset;
        break;
      }
      if ((e.tag >>> 16) === 0xfffe) throw new ScanError(`unexpected ${tagString(e.tag)} inside an item at offset ${pos}`);
      pos = skipValue(src, e, itemSyntax, depth + 1);
    }
  }
}

function walkEncapsulated(src: ByteSource, start: number, syntax: Syntax): { end: number; bytes: number; fragments: number } {
  let pos = start;
  let items = 0;
  let bytes = 0;
  for (;;) {
    const h = readHeader(src, pos, syntax);
    if (h.tag === TAG_SEQUENCE_DELIMITER) {
      if (items === 0) throw new ScanError('encapsulated pixel data has no basic offset table item');
      if (items === 1) throw new ScanError('encapsulated pixel data has no fragments');
      return { end: h.valueOffset, bytes, fragments: items - 1 };
    }
    if (h.tag !== TAG_ITEM || h.length === UNDEFINED_LENGTH) {
      throw new ScanError(`malformed encapsulated pixel data at offset ${pos}: ${tagString(h.tag)}`);
    }
    ensure(src, h.valueOffset, h.length, h.tag);
    if (items > 0) bytes += h.length;
    items += 1;
    pos = h.valueOffset + h.length;
  }
}

/**
 * The elements of a sequence's items (at most `maxItems`), each item as tag -> ElementRef, for decoding a
 * few attributes inside sequences (e.g. the first frame of an Enhanced MR's functional groups) without
 * walking the rest. Throws ScanError on malformed structure.
 */
export function scanSequenceItems(src: ByteSource, seq: ElementRef, syntax: Syntax, maxItems = Number.POSITIVE_INFINITY): Array<Map<number, ElementRef>> {
  const itemSyntax = seq.vr === 'UN' ? IMPLICIT_LE : syntax;
  const end = seq.length === UNDEFINED_LENGTH ? Number.POSITIVE_INFINITY : seq.valueOffset + seq.length;
  const items: Array<Map<number, ElementRef>> = [];
  let pos = seq.valueOffset;
  while (pos < end && items.length < maxItems) {
    const item = readHeader(src, pos, itemSyntax);
    if (item.tag === TAG_SEQUENCE_DELIMITER) break;
    if (item.tag !== TAG_ITEM) throw new ScanError(`expected an item in ${tagString(seq.tag)} at offset ${pos}, found ${tagString(item.tag)}`);
    const itemEnd = item.length === UNDEFINED_LENGTH ? Number.POSITIVE_INFINITY : item.valueOffset + item.length;
    if (itemEnd !== Number.POSITIVE_INFINITY) ensure(src, item.valueOffset, item.length, item.tag);
    const els = new Map<number, ElementRef>();
    pos = item.valueOffset;
    while (pos < itemEnd) {
      const e = readHeader(src, pos, itemSyntax);
      if (e.tag === TAG_ITEM_DELIMITER) {
        pos = e.valueOffset;
        break;
      }
      if ((e.tag >>> 16) === 0xfffe) throw new ScanError(`unexpected ${tagString(e.tag)} inside an item at offset ${pos}`);
      els.set(e.tag, { tag: e.tag, vr: e.vr ?? (e.length === UNDEFINED_LENGTH ? 'SQ' : undefined), valueOffset: e.valueOffset, length: e.length });
      pos = skipValue(src, e, itemSyntax, 1);
    }
    if (itemEnd !== Number.POSITIVE_INFINITY) pos = itemEnd;
    items.push(els);
  }
  return items;
}
