/**
 * Writes small synthetic MR Part 10 files (classic and Enhanced MR) with dcmjs, for prepare/ tests.
 * Pixel values are given as numbers; they are stored with the requested bits and signedness.
 */
import { writeFileSync } from 'node:fs';
import { data as dcmjsData } from 'dcmjs';

export interface MrFrameSpec {
  position: [number, number, number];
  values: number[];
  rows?: number;
  columns?: number;
  pixelSpacing?: [number, number];
  rescaleSlope?: number;
  rescaleIntercept?: number;
}

export interface MrFileSpec {
  sopInstanceUid: string;
  seriesInstanceUid?: string;
  studyInstanceUid?: string;
  instanceNumber?: number;
  rows: number;
  columns: number;
  orientation?: number[];
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  signed?: boolean;
  transferSyntaxUid?: string;
  /** One frame for classic MR; several for Enhanced MR. */
  frames: MrFrameSpec[];
  enhanced?: boolean;
  /** Put geometry and rescale in SharedFunctionalGroupsSequence instead of per frame (enhanced only). */
  sharedGeometry?: boolean;
}

const EXPLICIT_LE = '1.2.840.10008.1.2.1';

function pixelBytes(spec: MrFileSpec): ArrayBuffer {
  const bits = spec.bitsAllocated ?? 16;
  const n = spec.rows * spec.columns;
  const all = spec.frames.flatMap((f) => f.values);
  if (all.length !== n * spec.frames.length) throw new Error('frame values do not match rows x columns');
  const arr = bits === 8 ? (spec.signed ? new Int8Array(all) : new Uint8Array(all)) : spec.signed ? new Int16Array(all) : new Uint16Array(all);
  const out = new ArrayBuffer(arr.byteLength + (arr.byteLength % 2));
  new Uint8Array(out).set(new Uint8Array(arr.buffer));
  return out;
}

export function writeMrFile(path: string, spec: MrFileSpec): void {
  const f0 = spec.frames[0]!;
  const bits = spec.bitsAllocated ?? 16;
  const orientation = spec.orientation ?? [1, 0, 0, 0, 1, 0];
  const ds: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: spec.enhanced ? '1.2.840.10008.5.1.4.1.1.4.1' : '1.2.840.10008.5.1.4.1.1.4',
    SOPInstanceUID: spec.sopInstanceUid,
    StudyInstanceUID: spec.studyInstanceUid ?? '1.2.826.0.1.3680043.2.1143.1',
    SeriesInstanceUID: spec.seriesInstanceUid ?? '1.2.826.0.1.3680043.2.1143.2',
    Modality: 'MR',
    SeriesDescription: 'test series',
    InstanceNumber: spec.instanceNumber ?? 1,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: spec.rows,
    Columns: spec.columns,
    BitsAllocated: bits,
    BitsStored: spec.bitsStored ?? bits,
    HighBit: (spec.bitsStored ?? bits) - 1,
    PixelRepresentation: spec.signed ? 1 : 0,
  };
  const geometry = (f: MrFrameSpec) => ({
    PlanePositionSequence: [{ ImagePositionPatient: f.position }],
    PlaneOrientationSequence: [{ ImageOrientationPatient: orientation }],
    PixelMeasuresSequence: [{ PixelSpacing: f.pixelSpacing ?? [1, 1], SliceThickness: 5 }],
    PixelValueTransformationSequence: [{ RescaleSlope: f.rescaleSlope ?? 1, RescaleIntercept: f.rescaleIntercept ?? 0, RescaleType: 'US' }],
  });
  if (spec.enhanced) {
    ds.NumberOfFrames = spec.frames.length;
    ds.ImageType = ['ORIGINAL', 'PRIMARY', 'M', 'NONE'];
    if (spec.sharedGeometry) {
      const g = geometry(f0);
      ds.SharedFunctionalGroupsSequence = [{ PlaneOrientationSequence: g.PlaneOrientationSequence, PixelMeasuresSequence: g.PixelMeasuresSequence, PixelValueTransformationSequence: g.PixelValueTransformationSequence }];
      ds.PerFrameFunctionalGroupsSequence = spec.frames.map((f) => ({ PlanePositionSequence: geometry(f).PlanePositionSequence }));
    } else {
      ds.SharedFunctionalGroupsSequence = [{}];
      ds.PerFrameFunctionalGroupsSequence = spec.frames.map(geometry);
    }
  } else {
    Object.assign(ds, {
      ImageType: ['ORIGINAL', 'PRIMARY', 'M', 'NORM'],
      ImagePositionPatient: f0.position,
      ImageOrientationPatient: orientation,
      PixelSpacing: f0.pixelSpacing ?? [1, 1],
      SliceThickness: 5,
      RescaleSlope: f0.rescaleSlope ?? 1,
      RescaleIntercept: f0.rescaleIntercept ?? 0,
    });
  }
  ds.PixelData = [pixelBytes(spec)];
  ds._vrMap = { PixelData: bits === 8 ? 'OB' : 'OW' };
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds.SOPClassUID,
    MediaStorageSOPInstanceUID: ds.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_LE,
    ImplementationClassUID: '2.25.260917465937384512297318049211446231339',
  };
  const dict = new dcmjsData.DicomDict(dcmjsData.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjsData.DicomMetaDictionary.denaturalizeDataset(ds);
  writeFileSync(path, Buffer.from(dict.write()));
}
