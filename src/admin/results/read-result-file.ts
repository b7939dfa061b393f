/**
 * Reading the node's own stored result objects (<dataDir>/results/<StudyInstanceUID>/<SOPInstanceUID>.dcm,
 * as writeResultObjects places them) for the web page: the naturalized dataset, and a heat map's pixels as PNG.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { data as dcmjsData } from 'dcmjs';
import sharp from 'sharp';
import { isValidUid } from '../../dicom/uids';

export type NaturalDataset = Record<string, unknown>;

/** The path of a stored result object; undefined for UIDs that are not valid (never a path outside results/). */
export function resultFilePath(dataDir: string, studyInstanceUid: string, sopInstanceUid: string): string | undefined {
  if (!isValidUid(studyInstanceUid) || !isValidUid(sopInstanceUid)) return undefined;
  return path.join(dataDir, 'results', studyInstanceUid, `${sopInstanceUid}.dcm`);
}

export async function readResultDataset(file: string): Promise<NaturalDataset> {
  const buf = await readFile(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  const message = dcmjsData.DicomMessage.readFile(ab, { ignoreErrors: true });
  return dcmjsData.DicomMetaDictionary.naturalizeDataset(message.dict) as NaturalDataset;
}

/** The first frame's pixel bytes of a native (uncompressed) dataset. */
function pixelBytes(ds: NaturalDataset): Uint8Array {
  const pd = ds.PixelData as ArrayBuffer | ArrayBuffer[] | undefined;
  const first = Array.isArray(pd) ? pd[0] : pd;
  if (!first) throw new Error('the object has no pixel data');
  return new Uint8Array(first);
}

/**
 * A Secondary Capture's pixels as PNG: 8-bit RGB (pixel-interleaved or planar) or 8-bit MONOCHROME2, the
 * shapes the node's heat maps take. Anything else is refused with the reason.
 */
export async function secondaryCaptureToPng(ds: NaturalDataset): Promise<{ png: Buffer; rows: number; columns: number }> {
  const rows = Number(ds.Rows);
  const columns = Number(ds.Columns);
  const spp = Number(ds.SamplesPerPixel ?? 1);
  const bits = Number(ds.BitsAllocated);
  const photometric = String(ds.PhotometricInterpretation ?? '');
  if (!(rows > 0 && columns > 0)) throw new Error('the object has no Rows/Columns');
  if (bits !== 8) throw new Error(`BitsAllocated ${bits}: only 8-bit images are rendered`);
  const bytes = pixelBytes(ds);
  let raw: Buffer;
  let channels: 1 | 3;
  if (spp === 3 && photometric === 'RGB') {
    channels = 3;
    const n = rows * columns;
    if (bytes.length < n * 3) throw new Error('pixel data shorter than Rows x Columns x 3');
    if (Number(ds.PlanarConfiguration ?? 0) === 1) {
      raw = Buffer.alloc(n * 3);
      for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) raw[i * 3 + c] = bytes[c * n + i]!;
    } else {
      raw = Buffer.from(bytes.buffer, bytes.byteOffset, n * 3);
    }
  } else if (spp === 1 && (photometric === 'MONOCHROME2' || photometric === 'MONOCHROME1')) {
    channels = 1;
    raw = Buffer.from(bytes.subarray(0, rows * columns));
    if (photometric === 'MONOCHROME1') raw = Buffer.from(raw.map((v) => 255 - v));
  } else {
    throw new Error(`PhotometricInterpretation ${photometric} with ${spp} samples is not rendered`);
  }
  const png = await sharp(raw, { raw: { width: columns, height: rows, channels } }).png().toBuffer();
  return { png, rows, columns };
}
