/**
 * Secondary Capture header modules (SC Image Storage, or Multi-frame True Color SC with one frame):
 * General Series (OT, new series), SC Equipment, General Image (DERIVED\SECONDARY, BurnedInAnnotation YES,
 * DerivationCodeSequence, SourceImageSequence, replaced predecessors), Image Pixel (RGB, interleaved) and SC Image.
 */
import type { ImageRef } from '../../analyses/types';
import { SopClass } from '../../dicom/uids';
import type { InstanceHeader } from '../../core/instance-header';
import type { ObjectRef, ScSopClassSetting } from '../types';
import type { NaturalDataset } from '../write-part10';
import { codeSequenceItem, Dcm, Npc } from '../sr/codes';
import { referencedSopItem } from '../sr/content-items';

export const SC_SOP_CLASSES: Record<ScSopClassSetting, string> = {
  sc: SopClass.SecondaryCaptureImageStorage,
  'multiframe-true-color': SopClass.MultiFrameTrueColorSecondaryCaptureImageStorage,
};

/** Series number of the heat-map series. */
export const SC_SERIES_NUMBER = 9901;

/** Patient orientation letters of one direction cosine vector (e.g. [1,0,0] -> "L"). */
export function orientationLetters(vector: readonly number[]): string {
  const letters: [number, string][] = [
    [vector[0] ?? 0, (vector[0] ?? 0) > 0 ? 'L' : 'R'],
    [vector[1] ?? 0, (vector[1] ?? 0) > 0 ? 'P' : 'A'],
    [vector[2] ?? 0, (vector[2] ?? 0) > 0 ? 'H' : 'F'],
  ];
  return letters
    .filter(([v]) => Math.abs(v) > 0.25)
    .sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]))
    .map(([, l]) => l)
    .join('');
}

/** PatientOrientation (row direction, column direction) from the source's ImageOrientationPatient, or empty. */
export function patientOrientation(source?: InstanceHeader): string[] | '' {
  const iop = source?.ImageOrientationPatient;
  if (!Array.isArray(iop) || iop.length !== 6 || iop.some((v) => typeof v !== 'number' || !Number.isFinite(v))) return '';
  const row = orientationLetters(iop.slice(0, 3));
  const column = orientationLetters(iop.slice(3, 6));
  return row && column ? [row, column] : '';
}

export interface ScHeaderOptions {
  scSopClass: ScSopClassSetting;
  seriesInstanceUid: string;
  instanceNumber: number;
  contentDate: string;
  contentTime: string;
  source: ImageRef;
  sourceHeader?: InstanceHeader;
  derivationDescription: string;
  predecessors: ObjectRef[];
  rows: number;
  columns: number;
  seriesDescription: string;
}

export function scSeriesAndImageModules(o: ScHeaderOptions): NaturalDataset {
  const ds: NaturalDataset = {
    // General Series
    Modality: 'OT',
    SeriesInstanceUID: o.seriesInstanceUid,
    SeriesNumber: SC_SERIES_NUMBER,
    SeriesDescription: o.seriesDescription,
    BodyPartExamined: typeof o.sourceHeader?.BodyPartExamined === 'string' && o.sourceHeader.BodyPartExamined ? o.sourceHeader.BodyPartExamined : 'HEAD',
    // SC Equipment
    ConversionType: 'WSD',
    // General Image
    InstanceNumber: o.instanceNumber,
    PatientOrientation: patientOrientation(o.sourceHeader),
    ContentDate: o.contentDate,
    ContentTime: o.contentTime,
    ImageType: ['DERIVED', 'SECONDARY'],
    DerivationDescription: o.derivationDescription.slice(0, 1024),
    DerivationCodeSequence: [codeSequenceItem(Dcm.GradientWeightedClassActivation)],
    SourceImageSequence: [
      {
        ...referencedSopItem(o.source),
        PurposeOfReferenceCodeSequence: [codeSequenceItem(Dcm.SourceImageForImageProcessingOperation)],
      },
    ],
    BurnedInAnnotation: 'YES',
    RecognizableVisualFeatures: 'NO',
    LossyImageCompression: '00',
    // Image Pixel
    SamplesPerPixel: 3,
    PhotometricInterpretation: 'RGB',
    Rows: o.rows,
    Columns: o.columns,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    PlanarConfiguration: 0,
    // SC Image
    DateOfSecondaryCapture: o.contentDate,
    TimeOfSecondaryCapture: o.contentTime,
  };
  if (o.predecessors.length > 0) {
    // The SC IOD has no Predecessor Documents Sequence: the replaced heat maps are listed in
    // ReferencedImageSequence (General Image) with a private purpose of reference "replaces".
    ds.ReferencedImageSequence = o.predecessors.map((p) => ({
      ReferencedSOPClassUID: p.sopClassUid,
      ReferencedSOPInstanceUID: p.sopInstanceUid,
      PurposeOfReferenceCodeSequence: [codeSequenceItem(Npc.ReplacedHeatMap)],
    }));
  }
  if (o.scSopClass === 'multiframe-true-color') {
    // One frame: FrameIncrementPointer is Type 1C (only when NumberOfFrames > 1) and must be absent.
    ds.NumberOfFrames = 1;
  }
  return ds;
}
