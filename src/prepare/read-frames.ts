/**
 * Decodes one stored Part 10 instance into rescaled float frames with their geometry. Runs inside the
 * decode workers (decode-worker.ts): dcmjs-codecs is synchronous WASM. Native little-endian data is read
 * directly; every other syntax (RLE, JPEG, JPEG-LS, JPEG 2000, HTJ2K, big endian) is transcoded to explicit
 * VR little endian by dcmjs-codecs first. Handles BitsAllocated 8/16/32, signed pixels (sign-extended from
 * BitsStored), RescaleSlope/Intercept, MONOCHROME1 (negated) and Enhanced MR multi-frame (per-frame and
 * shared functional groups: PlanePosition, PlaneOrientation, PixelMeasures, PixelValueTransformation).
 * Philips private scale factors are not applied (RescaleSlope/Intercept give the displayed values).
 */
import { data as dcmjsData } from 'dcmjs';
import { NativeCodecs, Transcoder } from 'dcmjs-codecs';
import { TransferSyntax } from '../dicom/uids';
import { errorMessage } from '../util/error-message';

export interface DecodedFrame {
  /** 1-based frame number for multi-frame instances. */
  frameNumber?: number;
  rows: number;
  columns: number;
  pixelSpacing?: [number, number];
  position?: [number, number, number];
  orientation?: [number, number, number, number, number, number];
  sliceThickness?: number;
  /** Rescaled values, row-major. */
  pixels: Float32Array;
}

export interface DecodedInstance {
  sopInstanceUid: string;
  sopClassUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  seriesDescription?: string;
  instanceNumber?: number;
  transferSyntaxUid: string;
  spacingBetweenSlices?: number;
  frames: DecodedFrame[];
}

export class UnusableImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnusableImageError';
  }
}

type Dataset = Record<string, unknown>;

const DIRECT: ReadonlySet<string> = new Set([TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.ExplicitVRLittleEndian]);

let codecsReady: Promise<void> | undefined;
function ensureCodecs(): Promise<void> {
  codecsReady ??= NativeCodecs.initializeAsync({ logCodecsInfo: false, logCodecsTrace: false });
  return codecsReady;
}

function item(x: unknown): Dataset | undefined {
  if (Array.isArray(x)) return x.length > 0 && x[0] && typeof x[0] === 'object' ? (x[0] as Dataset) : undefined;
  return x && typeof x === 'object' && !(x instanceof ArrayBuffer) ? (x as Dataset) : undefined;
}

function num(x: unknown): number | undefined {
  const v = Array.isArray(x) ? x[0] : x;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function nums(x: unknown, length: number): number[] | undefined {
  if (!Array.isArray(x) || x.length !== length) return undefined;
  const out = x.map(num);
  return out.every((v) => v !== undefined) ? (out as number[]) : undefined;
}

function str(x: unknown): string | undefined {
  const v = Array.isArray(x) ? x[0] : x;
  return typeof v === 'string' ? v : undefined;
}

function parse(buffer: ArrayBuffer): { ds: Dataset; transferSyntaxUid: string } {
  const dict = dcmjsData.DicomMessage.readFile(buffer, { ignoreErrors: true });
  const ts = String(dict.meta['00020010']?.Value?.[0] ?? TransferSyntax.ImplicitVRLittleEndian).replace(/\0/g, '').trim();
  return { ds: dcmjsData.DicomMetaDictionary.naturalizeDataset(dict.dict), transferSyntaxUid: ts };
}

function concat(parts: ArrayBuffer[]): Uint8Array {
  if (parts.length === 1) return new Uint8Array(parts[0]!);
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), o);
    o += p.byteLength;
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const allocate = (count: number, shared: boolean) => (shared ? new Float32Array(new SharedArrayBuffer(count * 4)) : new Float32Array(count));

/**
 * Stored values of one frame as numbers, masked to BitsStored and sign-extended when signed. Reads the
 * pixel data through a typed-array view (a copy when the frame is not aligned to its sample size) and masks
 * and sign-extends with integer shifts; a big-endian host or an odd BitsStored (not an integer, above
 * BitsAllocated) takes the generic path, which gives the same values.
 */
export function storedValues(bytes: Uint8Array, offset: number, count: number, bitsAllocated: number, bitsStored: number, signed: boolean, shared = false): Float32Array {
  if (!LITTLE_ENDIAN || !Number.isInteger(bitsStored) || bitsStored > bitsAllocated || ![8, 16, 32].includes(bitsAllocated)) return storedValuesGeneric(bytes, offset, count, bitsAllocated, bitsStored, signed, shared);
  const out = allocate(count, shared);
  if (bitsStored <= 0) return out; // nothing stored: every value is 0
  const size = bitsAllocated / 8;
  const start = bytes.byteOffset + offset;
  const aligned = start % size === 0;
  const buffer = aligned ? bytes.buffer : bytes.slice(offset, offset + count * size).buffer;
  const at = aligned ? start : 0;
  if (bitsStored === bitsAllocated) {
    // Every allocated bit is stored: a typed view of the right signedness converts exactly.
    const view =
      size === 1 ? (signed ? new Int8Array(buffer, at, count) : new Uint8Array(buffer, at, count))
      : size === 2 ? (signed ? new Int16Array(buffer, at, count) : new Uint16Array(buffer, at, count))
      : signed ? new Int32Array(buffer, at, count) : new Uint32Array(buffer, at, count);
    out.set(view);
    return out;
  }
  const src = size === 1 ? new Uint8Array(buffer, at, count) : size === 2 ? new Uint16Array(buffer, at, count) : new Int32Array(buffer, at, count);
  if (signed) {
    // Shift the stored bits to the top of an int32 and back: masks the high bits and extends the sign.
    const shift = 32 - bitsStored;
    for (let i = 0; i < count; i++) out[i] = (src[i]! << shift) >> shift;
  } else {
    const mask = 2 ** bitsStored - 1; // bitsStored < 32 here: fits in an int32 mask
    for (let i = 0; i < count; i++) out[i] = src[i]! & mask;
  }
  return out;
}

/** The reference implementation (DataView, arithmetic masking): any byte order, any BitsStored. */
export function storedValuesGeneric(bytes: Uint8Array, offset: number, count: number, bitsAllocated: number, bitsStored: number, signed: boolean, shared = false): Float32Array {
  const out = allocate(count, shared);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, (count * bitsAllocated) / 8);
  const mask = bitsStored >= 32 ? 0xffffffff : 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  for (let i = 0; i < count; i++) {
    let v = bitsAllocated === 8 ? view.getUint8(i) : bitsAllocated === 16 ? view.getUint16(i * 2, true) : view.getUint32(i * 4, true);
    if (bitsStored < bitsAllocated) v = v % (mask + 1);
    if (signed && v >= signBit) v -= 2 * signBit;
    out[i] = v;
  }
  return out;
}

export interface ReadFramesOptions {
  /**
   * Frame pixels in SharedArrayBuffers (the decode workers): the volume's slices then reach the main
   * thread and go back to a worker for preparation without being copied. Nothing writes them afterwards.
   */
  shared?: boolean;
}

export async function readFrames(buffer: ArrayBuffer, options: ReadFramesOptions = {}): Promise<DecodedInstance> {
  let { ds, transferSyntaxUid } = parse(buffer);
  const original = transferSyntaxUid;
  if (transferSyntaxUid === TransferSyntax.DeflatedExplicitVRLittleEndian) throw new UnusableImageError('deflated transfer syntax is not supported');
  if (!DIRECT.has(transferSyntaxUid)) {
    await ensureCodecs();
    let decoded: ArrayBuffer;
    try {
      const t = new Transcoder(buffer);
      t.transcode(TransferSyntax.ExplicitVRLittleEndian);
      decoded = t.getDicomPart10();
    } catch (e) {
      throw new UnusableImageError(`cannot decode transfer syntax ${transferSyntaxUid}: ${errorMessage(e)}`);
    }
    ({ ds, transferSyntaxUid } = parse(decoded));
  }
  const sopInstanceUid = str(ds.SOPInstanceUID) ?? '';
  const where = `instance ${sopInstanceUid}`;
  const rows = num(ds.Rows);
  const columns = num(ds.Columns);
  if (!rows || !columns) throw new UnusableImageError(`${where}: no Rows/Columns`);
  const samples = num(ds.SamplesPerPixel) ?? 1;
  if (samples !== 1) throw new UnusableImageError(`${where}: SamplesPerPixel ${samples}, a grey-scale image is needed`);
  const bitsAllocated = num(ds.BitsAllocated) ?? 16;
  if (![8, 16, 32].includes(bitsAllocated)) throw new UnusableImageError(`${where}: BitsAllocated ${bitsAllocated} not supported`);
  const bitsStored = Math.min(num(ds.BitsStored) ?? bitsAllocated, bitsAllocated);
  const signed = num(ds.PixelRepresentation) === 1;
  const monochrome1 = str(ds.PhotometricInterpretation)?.trim() === 'MONOCHROME1';
  const frameCount = Math.max(1, num(ds.NumberOfFrames) ?? 1);
  const pixelData = ds.PixelData;
  if (!Array.isArray(pixelData) || pixelData.length === 0 || !(pixelData[0] instanceof ArrayBuffer)) throw new UnusableImageError(`${where}: no pixel data`);
  const bytes = concat(pixelData as ArrayBuffer[]);
  const frameBytes = (rows * columns * bitsAllocated) / 8;
  if (bytes.byteLength < frameBytes * frameCount) {
    throw new UnusableImageError(`${where}: pixel data has ${bytes.byteLength} bytes, ${frameCount} frame(s) of ${rows} x ${columns} x ${bitsAllocated} bits need ${frameBytes * frameCount}`);
  }

  const shared = item(ds.SharedFunctionalGroupsSequence);
  const perFrame = Array.isArray(ds.PerFrameFunctionalGroupsSequence) ? (ds.PerFrameFunctionalGroupsSequence as Dataset[]) : [];
  const group = (f: number, macro: string): Dataset | undefined => item(perFrame[f]?.[macro]) ?? item(shared?.[macro]);

  const frames: DecodedFrame[] = [];
  for (let f = 0; f < frameCount; f++) {
    const measures = group(f, 'PixelMeasuresSequence');
    const transform = group(f, 'PixelValueTransformationSequence');
    const slope = num(transform?.RescaleSlope) ?? num(ds.RescaleSlope) ?? 1;
    const intercept = num(transform?.RescaleIntercept) ?? num(ds.RescaleIntercept) ?? 0;
    const pixels = storedValues(bytes, f * frameBytes, rows * columns, bitsAllocated, bitsStored, signed, options.shared);
    if (slope !== 1 || intercept !== 0 || monochrome1) {
      const s = monochrome1 ? -slope : slope;
      const o = monochrome1 ? -intercept : intercept;
      for (let i = 0; i < pixels.length; i++) pixels[i] = pixels[i]! * s + o;
    }
    const ps = nums(measures?.PixelSpacing, 2) ?? nums(ds.PixelSpacing, 2) ?? nums(ds.ImagerPixelSpacing, 2);
    const pos = nums(group(f, 'PlanePositionSequence')?.ImagePositionPatient, 3) ?? nums(ds.ImagePositionPatient, 3);
    const ori = nums(group(f, 'PlaneOrientationSequence')?.ImageOrientationPatient, 6) ?? nums(ds.ImageOrientationPatient, 6);
    frames.push({
      frameNumber: frameCount > 1 || perFrame.length > 0 ? f + 1 : undefined,
      rows,
      columns,
      pixelSpacing: ps as [number, number] | undefined,
      position: pos as [number, number, number] | undefined,
      orientation: ori as DecodedFrame['orientation'],
      sliceThickness: num(measures?.SliceThickness) ?? num(ds.SliceThickness),
      pixels,
    });
  }
  return {
    sopInstanceUid,
    sopClassUid: str(ds.SOPClassUID) ?? '',
    studyInstanceUid: str(ds.StudyInstanceUID) ?? '',
    seriesInstanceUid: str(ds.SeriesInstanceUID) ?? '',
    seriesDescription: str(ds.SeriesDescription),
    instanceNumber: num(ds.InstanceNumber),
    transferSyntaxUid: original,
    spacingBetweenSlices: num(ds.SpacingBetweenSlices),
    frames,
  };
}
