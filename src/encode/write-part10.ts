/**
 * Writes a naturalized dataset as a DICOM Part 10 file (Explicit VR Little Endian) with the node's own
 * file meta (ImplementationClassUID / ImplementationVersionName from src/dicom/uids.ts), and reads one
 * back (tests, round trips). The only module of encode/ that touches dcmjs's writer.
 */
import { ImplementationClassUid, ImplementationVersionName, TransferSyntax } from '../dicom/uids';

/** A naturalized dataset: DICOM keywords to values (sequences as arrays of datasets). */
export type NaturalDataset = Record<string, unknown>;

interface DcmjsDicomDict {
  dict: Record<string, unknown>;
  meta: Record<string, unknown>;
  write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer;
}
interface DcmjsData {
  DicomDict: new (meta: Record<string, unknown>) => DcmjsDicomDict;
  DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): { dict: Record<string, unknown>; meta: Record<string, unknown> } };
  DicomMetaDictionary: {
    denaturalizeDataset(ds: NaturalDataset): Record<string, unknown>;
    naturalizeDataset(ds: Record<string, unknown>): NaturalDataset;
  };
}
// dcmjs ships no TypeScript types; these local interfaces name the little we use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjsData = (require('dcmjs') as { data: DcmjsData }).data;

/** The character set every object the node writes declares. */
export const OUTPUT_CHARACTER_SET = 'ISO_IR 192';

/** Serialises `dataset` (which must carry SOPClassUID and SOPInstanceUID) as a Part 10 buffer. */
export function writePart10(dataset: NaturalDataset): Buffer {
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
  const pixelVr = full.BitsAllocated === 8 ? 'OB' : 'OW';
  const pixels = pixelDataBytes(full.PixelData);
  if (pixels) delete full.PixelData;
  else if (full.PixelData !== undefined) full._vrMap = { PixelData: pixelVr };
  dict.dict = dcmjsData.DicomMetaDictionary.denaturalizeDataset(full);
  if (pixels && Object.keys(dict.dict).some((tag) => tag > PIXEL_DATA_TAG)) {
    // An element would follow PixelData: let dcmjs write everything in tag order.
    dict.dict = dcmjsData.DicomMetaDictionary.denaturalizeDataset({ ...full, PixelData: dataset.PixelData, _vrMap: { PixelData: pixelVr } });
    return Buffer.from(dict.write());
  }
  const head = Buffer.from(dict.write());
  if (!pixels) return head;
  // PixelData, the last element, written here as dcmjs writes it (tag, VR, 0000, 32-bit length, the bytes)
  // but without its stream copying the pixels twice in 256-byte chunks.
  const header = Buffer.alloc(12);
  header.writeUInt16LE(0x7fe0, 0);
  header.writeUInt16LE(0x0010, 2);
  header.write(pixelVr, 4, 'latin1');
  header.writeUInt16LE(0, 6);
  header.writeUInt32LE(pixels.byteLength, 8);
  return Buffer.concat([head, header, pixels], head.length + 12 + pixels.byteLength);
}

const PIXEL_DATA_TAG = '7FE00010';

/** Native pixel data this module writes itself: one ArrayBuffer of even length below 4 GiB (else dcmjs does). */
function pixelDataBytes(value: unknown): Uint8Array | undefined {
  return value instanceof ArrayBuffer && value.byteLength % 2 === 0 && value.byteLength < 0xffffffff ? new Uint8Array(value) : undefined;
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
