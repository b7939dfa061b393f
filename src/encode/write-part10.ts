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
  if (full.PixelData !== undefined) full._vrMap = { PixelData: full.BitsAllocated === 8 ? 'OB' : 'OW' };
  dict.dict = dcmjsData.DicomMetaDictionary.denaturalizeDataset(full);
  return Buffer.from(dict.write());
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
