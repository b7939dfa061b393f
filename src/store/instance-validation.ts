/**
 * What must hold before a received instance is acknowledged: a readable Part 10 structure, a supported
 * transfer syntax, the required attributes with valid UIDs, a data set that matches its SOP class, and
 * pixel data of the declared size. Failures carry a DIMSE status, a reason (ErrorComment) and an HTTP status.
 */
import { Status } from '../dicom/status';
import { AcceptedStorageSopClasses, NativeTransferSyntaxes, SopClass, TransferSyntax, isValidUid } from '../dicom/uids';
import { ScanError, scanDataset, type ByteSource, type Syntax } from '../dicom/dataset-scan';
import { AttributeError, decodeHeader } from '../dicom/header-attributes';
import { readFileMeta, type FileMeta } from '../dicom/part10';
import { UnsupportedCharacterSetError } from '../dicom/charset';
import type { InstanceHeader } from './instance-types';
import { errorMessage } from '../util/error-message';

export interface ValidInstance {
  ok: true;
  header: InstanceHeader;
  transferSyntaxUid: string;
  datasetOffset: number;
  /** The file's File Meta Information as read. */
  fileMeta: FileMeta;
}

export interface InvalidInstance {
  ok: false;
  status: number;
  /** ErrorComment (at most 64 characters are sent over DIMSE). No patient data. */
  reason: string;
  httpStatus: number;
  sopClassUid?: string;
  sopInstanceUid?: string;
}

export type ValidationResult = ValidInstance | InvalidInstance;

export interface ValidationExpectations {
  /** Transfer syntaxes that may be stored (the node's accepted list, never deflate). */
  acceptedTransferSyntaxes: ReadonlySet<string>;
  /** From the C-STORE command, when received over DIMSE. */
  affectedSopClassUid?: string;
  affectedSopInstanceUid?: string;
}

export function syntaxOf(transferSyntaxUid: string): Syntax {
  return {
    explicitVr: transferSyntaxUid !== TransferSyntax.ImplicitVRLittleEndian,
    littleEndian: transferSyntaxUid !== TransferSyntax.ExplicitVRBigEndian,
  };
}

export function invalid(status: number, reason: string, httpStatus = 409, uids: { sopClassUid?: string; sopInstanceUid?: string } = {}): InvalidInstance {
  return { ok: false, status, reason, httpStatus, ...uids };
}

/** Validates a Part 10 file's bytes. Never throws for bad input. */
export function validateInstance(src: ByteSource, exp: ValidationExpectations): ValidationResult {
  let meta;
  try {
    meta = readFileMeta(src);
  } catch (err) {
    return invalid(Status.CannotUnderstand, errorMessage(err), 400);
  }
  const ts = meta.transferSyntaxUid;
  const uids = { sopClassUid: meta.mediaStorageSopClassUid, sopInstanceUid: meta.mediaStorageSopInstanceUid };
  if (ts === TransferSyntax.DeflatedExplicitVRLittleEndian || !exp.acceptedTransferSyntaxes.has(ts)) {
    return invalid(Status.TransferSyntaxNotSupported, `transfer syntax ${ts.slice(0, 40)} not supported`, 415, uids);
  }
  let header: Partial<InstanceHeader>;
  let scan;
  try {
    scan = scanDataset(src, meta.datasetOffset, syntaxOf(ts));
    header = decodeHeader(src, scan);
  } catch (err) {
    if (err instanceof ScanError || err instanceof AttributeError || err instanceof UnsupportedCharacterSetError) return invalid(Status.CannotUnderstand, err.message, 409, uids);
    throw err;
  }
  const withUids = { sopClassUid: str(header.SOPClassUID) ?? uids.sopClassUid, sopInstanceUid: str(header.SOPInstanceUID) ?? uids.sopInstanceUid };

  for (const k of ['SOPClassUID', 'SOPInstanceUID', 'StudyInstanceUID', 'SeriesInstanceUID'] as const) {
    const v = header[k];
    if (v === undefined) return invalid(Status.CannotUnderstand, `missing ${k}`, 409, withUids);
    if (!isValidUid(v)) return invalid(Status.CannotUnderstand, `invalid ${k}`, 409, withUids);
  }
  const h = header as InstanceHeader;
  if (exp.affectedSopClassUid !== undefined && h.SOPClassUID !== exp.affectedSopClassUid) {
    return invalid(Status.DataSetDoesNotMatchSopClass, 'SOPClassUID differs from the C-STORE AffectedSOPClassUID', 409, withUids);
  }
  if (exp.affectedSopInstanceUid !== undefined && h.SOPInstanceUID !== exp.affectedSopInstanceUid) {
    return invalid(Status.DataSetDoesNotMatchSopClass, 'SOPInstanceUID differs from the C-STORE AffectedSOPInstanceUID', 409, withUids);
  }
  if (meta.mediaStorageSopClassUid !== undefined && exp.affectedSopClassUid === undefined && meta.mediaStorageSopClassUid !== h.SOPClassUID) {
    return invalid(Status.DataSetDoesNotMatchSopClass, 'MediaStorageSOPClassUID differs from SOPClassUID', 409, withUids);
  }
  if (meta.mediaStorageSopInstanceUid !== undefined && exp.affectedSopInstanceUid === undefined && meta.mediaStorageSopInstanceUid !== h.SOPInstanceUID) {
    return invalid(Status.DataSetDoesNotMatchSopClass, 'MediaStorageSOPInstanceUID differs from SOPInstanceUID', 409, withUids);
  }
  if (!AcceptedStorageSopClasses.has(h.SOPClassUID)) {
    return invalid(Status.SopClassNotSupported, 'SOP class not accepted (MR Image Storage and Enhanced MR Image Storage only)', 409, withUids);
  }
  if (h.Modality !== 'MR') return invalid(Status.DataSetDoesNotMatchSopClass, `Modality ${String(h.Modality ?? 'missing').slice(0, 8)} is not MR`, 409, withUids);

  // Image pixel module.
  for (const k of ['Rows', 'Columns', 'BitsAllocated'] as const) {
    const v = h[k];
    if (typeof v !== 'number' || v <= 0) return invalid(Status.DataSetDoesNotMatchSopClass, `missing or invalid ${k}`, 409, withUids);
  }
  const frames = h.NumberOfFrames ?? 1;
  if (h.SOPClassUID === SopClass.EnhancedMrImageStorage) {
    if (typeof h.NumberOfFrames !== 'number') return invalid(Status.DataSetDoesNotMatchSopClass, 'Enhanced MR without NumberOfFrames', 409, withUids);
    if (!scan.elements.has(0x52009229) || !scan.elements.has(0x52009230)) {
      return invalid(Status.DataSetDoesNotMatchSopClass, 'Enhanced MR without functional group sequences', 409, withUids);
    }
  }
  if (typeof frames !== 'number' || !Number.isInteger(frames) || frames < 1) {
    return invalid(Status.DataSetDoesNotMatchSopClass, 'invalid NumberOfFrames', 409, withUids);
  }
  const pd = scan.pixelData;
  if (!pd) return invalid(Status.DataSetDoesNotMatchSopClass, 'no PixelData', 409, withUids);
  if (NativeTransferSyntaxes.has(ts)) {
    if (pd.encapsulated) return invalid(Status.CannotUnderstand, 'encapsulated PixelData in a native transfer syntax', 409, withUids);
    const samples = typeof h.SamplesPerPixel === 'number' ? h.SamplesPerPixel : 1;
    const bits = h.BitsAllocated as number;
    const pixels = (h.Rows as number) * (h.Columns as number) * samples * frames;
    const expected = bits === 1 ? Math.ceil(pixels / 8) : (pixels * bits) / 8;
    if (pd.length < expected) return invalid(Status.CannotUnderstand, `PixelData has ${pd.length} bytes, ${expected} declared`, 409, withUids);
    if (pd.length > expected + (expected % 2)) {
      return invalid(Status.CannotUnderstand, `PixelData has ${pd.length} bytes, ${expected} declared`, 409, withUids);
    }
  } else {
    if (!pd.encapsulated) return invalid(Status.CannotUnderstand, 'native PixelData in a compressed transfer syntax', 409, withUids);
    if (pd.fragments < 1 || pd.length === 0) return invalid(Status.CannotUnderstand, 'encapsulated PixelData has no data', 409, withUids);
    if (pd.fragments < frames) return invalid(Status.CannotUnderstand, `encapsulated PixelData has ${pd.fragments} fragments for ${frames} frames`, 409, withUids);
  }
  return { ok: true, header: h, transferSyntaxUid: ts, datasetOffset: meta.datasetOffset, fileMeta: meta };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
