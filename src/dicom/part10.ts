/**
 * DICOM Part 10 files (PS3.10 7.1): reading the File Meta Information of a received file, and writing the
 * File Meta Information placed in front of a data set received over DIMSE (whose bytes stay unchanged).
 */
import { ImplementationClassUid, ImplementationVersionName } from './uids';
import { ScanError, type ByteSource } from './dataset-scan';
import { hasLongLength } from './value-representations';

export const PREAMBLE_LENGTH = 128;

export interface FileMeta {
  mediaStorageSopClassUid?: string;
  mediaStorageSopInstanceUid?: string;
  transferSyntaxUid: string;
  /** (0002,0016) Source Application Entity Title, when the file has one. */
  sourceApplicationEntityTitle?: string;
  /** (0002,0017) Sending Application Entity Title: the calling AE title of the association it came over. */
  sendingApplicationEntityTitle?: string;
  /** (0002,0018) Receiving Application Entity Title: the called AE title it was received under. */
  receivingApplicationEntityTitle?: string;
  /** Offset of the data set's first byte. */
  datasetOffset: number;
}

/** Reads the file meta group (always explicit VR little endian). Throws ScanError when it is not Part 10. */
export function readFileMeta(src: ByteSource): FileMeta {
  if (src.length < PREAMBLE_LENGTH + 4 || src.read(PREAMBLE_LENGTH, 4).toString('latin1') !== 'DICM') {
    throw new ScanError('not a DICOM Part 10 file (no DICM prefix after the 128-byte preamble)');
  }
  let pos = PREAMBLE_LENGTH + 4;
  const values = new Map<number, string>();
  while (pos + 8 <= src.length) {
    const h = src.read(pos, 8);
    const group = h.readUInt16LE(0);
    if (group !== 0x0002) break;
    const element = h.readUInt16LE(2);
    const vr = h.toString('latin1', 4, 6);
    let length: number;
    let valueOffset: number;
    if (hasLongLength(vr)) {
      length = src.read(pos + 8, 4).readUInt32LE(0);
      valueOffset = pos + 12;
    } else {
      length = h.readUInt16LE(6);
      valueOffset = pos + 8;
    }
    if (length === 0xffffffff || valueOffset + length > src.length) throw new ScanError('file meta information is truncated or malformed');
    if (vr === 'UI') values.set(element, src.read(valueOffset, length).toString('latin1').replace(/[\0 ]+$/, ''));
    else if (vr === 'AE') values.set(element, src.read(valueOffset, length).toString('latin1').trim());
    pos = valueOffset + length;
  }
  const transferSyntaxUid = values.get(0x0010);
  if (!transferSyntaxUid) throw new ScanError('file meta information has no TransferSyntaxUID (0002,0010)');
  return {
    mediaStorageSopClassUid: values.get(0x0002),
    mediaStorageSopInstanceUid: values.get(0x0003),
    transferSyntaxUid,
    sourceApplicationEntityTitle: values.get(0x0016) || undefined,
    sendingApplicationEntityTitle: values.get(0x0017) || undefined,
    receivingApplicationEntityTitle: values.get(0x0018) || undefined,
    datasetOffset: pos,
  };
}

function element(group: number, elem: number, vr: string, value: Buffer): Buffer {
  const long = hasLongLength(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(elem, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(value.length, 8);
  else header.writeUInt16LE(value.length, 6);
  return Buffer.concat([header, value]);
}

function padded(s: string, pad: string): Buffer {
  return Buffer.from(s.length % 2 === 0 ? s : s + pad, 'latin1');
}

/**
 * Preamble, DICM and the File Meta Information group for a data set received over the network. With
 * `receivingAeTitle` (and `sourceAeTitle`, the calling AE title) the file carries who received it: Sending
 * (0002,0017) and Receiving (0002,0018) Application Entity Title, which a rebuilt index reads (no file beside it).
 */
export function encodeFileMeta(opts: { sopClassUid: string; sopInstanceUid: string; transferSyntaxUid: string; sourceAeTitle?: string; receivingAeTitle?: string }): Buffer {
  const body = [
    element(0x0002, 0x0001, 'OB', Buffer.from([0x00, 0x01])),
    element(0x0002, 0x0002, 'UI', padded(opts.sopClassUid, '\0')),
    element(0x0002, 0x0003, 'UI', padded(opts.sopInstanceUid, '\0')),
    element(0x0002, 0x0010, 'UI', padded(opts.transferSyntaxUid, '\0')),
    element(0x0002, 0x0012, 'UI', padded(ImplementationClassUid, '\0')),
    element(0x0002, 0x0013, 'SH', padded(ImplementationVersionName, ' ')),
  ];
  if (opts.sourceAeTitle) body.push(element(0x0002, 0x0016, 'AE', padded(opts.sourceAeTitle.slice(0, 16), ' ')));
  if (opts.receivingAeTitle) {
    if (opts.sourceAeTitle) body.push(element(0x0002, 0x0017, 'AE', padded(opts.sourceAeTitle.slice(0, 16), ' ')));
    body.push(element(0x0002, 0x0018, 'AE', padded(opts.receivingAeTitle.slice(0, 16), ' ')));
  }
  const bodyBuf = Buffer.concat(body);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(bodyBuf.length, 0);
  return Buffer.concat([Buffer.alloc(PREAMBLE_LENGTH), Buffer.from('DICM', 'latin1'), element(0x0002, 0x0000, 'UL', groupLength), bodyBuf]);
}
