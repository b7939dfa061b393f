/**
 * Writes a naturalized dataset as a DICOM Part 10 file (Explicit VR Little Endian) with the node's own
 * file meta (ImplementationClassUID / ImplementationVersionName from src/dicom/uids.ts), and reads one
 * back (tests, round trips). The only module of encode/ that touches dcmjs's writer; it frames elements
 * and sequences itself (as dcmjs does, several times faster) and lets dcmjs encode the values.
 */
import { ImplementationClassUid, ImplementationVersionName, TransferSyntax } from '../dicom/uids';

/** A naturalized dataset: DICOM keywords to values (sequences as arrays of datasets). */
export type NaturalDataset = Record<string, unknown>;

interface DcmjsDicomDict {
  dict: Record<string, unknown>;
  meta: Record<string, unknown>;
  write(options?: WriteOptions): ArrayBuffer;
}
interface WriteOptions {
  allowInvalidVRLength?: boolean;
}
/** dcmjs's encoder of one VR's values (ValueRepresentation). */
interface DcmjsVr {
  type: string;
  isLength32(): boolean;
  writeBytes(stream: DcmjsWriteStream, ...args: unknown[]): number;
}
/** dcmjs's WriteBufferStream: `size` is the end of what has been written. */
interface DcmjsWriteStream {
  size: number;
  setEndian(littleEndian: boolean): void;
  getBuffer(start: number, end: number): ArrayBuffer;
}
interface DcmjsData {
  DicomDict: new (meta: Record<string, unknown>) => DcmjsDicomDict;
  DicomMessage: {
    readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): { dict: Record<string, unknown>; meta: Record<string, unknown> };
    _getTagWriteValues(vr: string, entry: unknown): unknown;
  };
  DicomMetaDictionary: {
    denaturalizeDataset(ds: NaturalDataset): Record<string, unknown>;
    naturalizeDataset(ds: Record<string, unknown>): NaturalDataset;
  };
  ValueRepresentation: { createByTypeString(type: string): DcmjsVr };
  WriteBufferStream: new (defaultSize: number, littleEndian: boolean) => DcmjsWriteStream;
}
// dcmjs ships no TypeScript types; these local interfaces name the little we use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjsData = (require('dcmjs') as { data: DcmjsData }).data;

/** The character set every object the node writes declares. */
export const OUTPUT_CHARACTER_SET = 'ISO_IR 192';

const PIXEL_DATA_TAG = '7FE00010';
const UNDEFINED_LENGTH = 0xffffffff;

/** Serialises `dataset` (which must carry SOPClassUID and SOPInstanceUID) as a Part 10 buffer. */
export function writePart10(dataset: NaturalDataset): Buffer {
  const { dict, full, pixelVr } = prepare(dataset);
  const pixels = pixelDataBytes(full.PixelData);
  if (pixels) {
    delete full.PixelData;
    full._vrMap = { PixelData: pixelVr };
  }
  const elements = dcmjsData.DicomMetaDictionary.denaturalizeDataset(full);
  if ((full.PixelData !== undefined && !pixels) || (pixels && Object.keys(elements).some((tag) => tag > PIXEL_DATA_TAG))) {
    // Pixel data this module does not write itself, or an element after PixelData: all by dcmjs.
    return writePart10WithDcmjs(dataset);
  }
  // Preamble and file meta by dcmjs; the dataset by writeElements below (dcmjs's value encoding, the
  // element and item framing here); PixelData, the last element, appended as dcmjs writes it.
  dict.dict = {};
  const out = new ByteWriter(Buffer.from(dict.write()), 64 * 1024 + (pixels?.byteLength ?? 0));
  writeElements(elements, out, new dcmjsData.WriteBufferStream(64 * 1024, true), { allowInvalidVRLength: false });
  if (pixels) {
    out.u16(0x7fe0);
    out.u16(0x0010);
    out.ascii(pixelVr);
    out.u16(0);
    out.u32(pixels.byteLength);
    out.bytes(pixels);
  }
  return out.result();
}

/** writePart10 entirely by dcmjs's writer: the reference the faster path must equal byte for byte (tests). */
export function writePart10WithDcmjs(dataset: NaturalDataset): Buffer {
  const { dict, full, pixelVr } = prepare(dataset);
  if (full.PixelData !== undefined) full._vrMap = { PixelData: pixelVr };
  dict.dict = dcmjsData.DicomMetaDictionary.denaturalizeDataset(full);
  return Buffer.from(dict.write());
}

/** The file meta as a dcmjs DicomDict, the dataset with the output character set, PixelData's VR. */
function prepare(dataset: NaturalDataset): { dict: DcmjsDicomDict; full: NaturalDataset; pixelVr: 'OB' | 'OW' } {
  const sopClassUid = dataset.SOPClassUID;
  const sopInstanceUid = dataset.SOPInstanceUID;
  if (typeof sopClassUid !== 'string' || typeof sopInstanceUid !== 'string') {
    throw new Error('writePart10: dataset needs SOPClassUID and SOPInstanceUID');
  }
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUid,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: TransferSyntax.ExplicitVRLittleEndian,
    ImplementationClassUID: ImplementationClassUid,
    ImplementationVersionName,
  };
  const dict = new dcmjsData.DicomDict(dcmjsData.DicomMetaDictionary.denaturalizeDataset(meta));
  const full: NaturalDataset = { ...dataset, SpecificCharacterSet: OUTPUT_CHARACTER_SET };
  // PixelData's VR is ambiguous (OB/OW) in the dictionary: 8-bit pixels are OB.
  return { dict, full, pixelVr: full.BitsAllocated === 8 ? 'OB' : 'OW' };
}

/** Native pixel data this module writes itself: one ArrayBuffer of even length below 4 GiB (else dcmjs does). */
function pixelDataBytes(value: unknown): Uint8Array | undefined {
  return value instanceof ArrayBuffer && value.byteLength % 2 === 0 && value.byteLength < UNDEFINED_LENGTH ? new Uint8Array(value) : undefined;
}

/**
 * Writes denaturalized elements (Explicit VR Little Endian) byte for byte as dcmjs's DicomMessage.write
 * and Tag.write do -- tags in sorted order, sequences and items of undefined length with delimiters, a short
 * VR whose value reaches 64 KiB as UN -- with each VR's values encoded by dcmjs itself, into one value stream.
 * dcmjs builds a new stream (and copies every nested level into its parent) per element, most of its cost.
 */
function writeElements(elements: Record<string, unknown>, out: ByteWriter, values: DcmjsWriteStream, options: WriteOptions): void {
  for (const tag of Object.keys(elements).sort()) {
    const entry = elements[tag] as { vr: string };
    const vrType = entry.vr;
    const vr = dcmjsData.ValueRepresentation.createByTypeString(vrType);
    const value = dcmjsData.DicomMessage._getTagWriteValues(vrType, entry);
    out.u16(parseInt(tag.substring(0, 4), 16));
    out.u16(parseInt(tag.substring(4), 16));
    if (vrType === 'SQ') {
      out.ascii(vr.type);
      out.u16(0);
      out.u32(UNDEFINED_LENGTH);
      const items = value as Record<string, unknown>[] | undefined;
      if (items) {
        for (let i = 0; i < items.length; i++) {
          out.u16(0xfffe);
          out.u16(0xe000);
          out.u32(UNDEFINED_LENGTH);
          writeElements(items[i]!, out, values, options);
          out.u16(0xfffe);
          out.u16(0xe00d);
          out.u32(0);
        }
      }
      out.u16(0xfffe);
      out.u16(0xe0dd);
      out.u32(0);
      continue;
    }
    const start = values.size;
    const length = vrType === 'OW' || vrType === 'OB' || vrType === 'UN' ? vr.writeBytes(values, value, TransferSyntax.ExplicitVRLittleEndian, false, options) : vr.writeBytes(values, value, options);
    const bytes = values.getBuffer(start, values.size);
    const big16 = !vr.isLength32() && length >= 0x10000 && length !== UNDEFINED_LENGTH;
    if (vr.isLength32() || big16) {
      out.ascii(big16 ? 'UN' : vr.type);
      out.u16(0);
      out.u32(length);
    } else {
      out.ascii(vr.type);
      out.u16(length);
    }
    out.bytes(new Uint8Array(bytes));
  }
}

/** A little-endian byte writer over a Buffer that doubles when full. */
class ByteWriter {
  private buffer: Buffer;
  private length = 0;

  constructor(head: Buffer, expected: number) {
    this.buffer = Buffer.allocUnsafe(head.length + expected);
    this.bytes(head);
  }

  private room(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + n));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }

  u16(v: number): void {
    this.room(2);
    this.buffer.writeUInt16LE(v & 0xffff, this.length);
    this.length += 2;
  }

  u32(v: number): void {
    this.room(4);
    this.buffer.writeUInt32LE(v >>> 0, this.length);
    this.length += 4;
  }

  ascii(s: string): void {
    this.room(s.length);
    this.length += this.buffer.write(s, this.length, 'latin1');
  }

  bytes(b: Uint8Array): void {
    this.room(b.byteLength);
    this.buffer.set(b, this.length);
    this.length += b.byteLength;
  }

  /** The bytes written, in a Buffer of their own size (callers may use its ArrayBuffer whole). */
  result(): Buffer {
    return this.length === this.buffer.length ? this.buffer : Buffer.from(this.buffer.subarray(0, this.length));
  }
}

/** Reads a Part 10 buffer back into a naturalized dataset plus its naturalized file meta. */
export function readPart10(buffer: Buffer): { dataset: NaturalDataset; meta: NaturalDataset } {
  const ab = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
  const message = dcmjsData.DicomMessage.readFile(ab);
  return {
    dataset: withoutVrMaps(dcmjsData.DicomMetaDictionary.naturalizeDataset(message.dict)) as NaturalDataset,
    meta: withoutVrMaps(dcmjsData.DicomMetaDictionary.naturalizeDataset(message.meta)) as NaturalDataset,
  };
}

/** dcmjs adds `_vrMap` bookkeeping to every naturalized dataset; readers compare plain values. */
function withoutVrMaps(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutVrMaps);
  if (value && typeof value === 'object' && !(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== '_vrMap') out[k] = withoutVrMaps(v);
    return out;
  }
  return value;
}
