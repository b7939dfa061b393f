/**
 * MR Image Storage Part 10 instances for the synthetic cohort (dcmjs, explicit VR little endian):
 * SOP Common, Patient, General Study, General Series, Frame of Reference, General Equipment,
 * General Image, Image Plane, Image Pixel, Contrast/Bolus (post-contrast series only) and MR Image modules.
 */
import dcmjs from 'dcmjs';
import { SopClass, TransferSyntax, ImplementationClassUid, ImplementationVersionName } from '../dicom/uids';
import type { Plane } from './geometry';
import type { SeriesProtocol, StudyProtocol } from './vendor';

const { DicomDict, DicomMetaDictionary } = dcmjs.data;

export interface PatientHeader {
  patientId: string;
  name: { alphabetic: string; ideographic?: string };
  birthDate: string;
  sex: 'M' | 'F';
  age: number;
}

export interface StudyHeader {
  studyInstanceUid: string;
  studyDate: string;
  studyTime: string;
  accessionNumber: string;
  studyId: string;
  studyDescription: string;
  frameOfReferenceUid: string;
}

export interface SeriesHeader {
  seriesInstanceUid: string;
  protocol: SeriesProtocol;
  seriesTime: string;
}

export interface InstanceHeader {
  sopInstanceUid: string;
  instanceNumber: number;
  plane: Plane;
  sliceThickness: number;
  spacingBetweenSlices?: number;
  acquisitionTime: string;
}

function ds(v: number, digits = 4): number {
  return Math.round(v * 10 ** digits) / 10 ** digits;
}

/** The dataset fields that are the same for every instance of a series. */
export function seriesDataset(patient: PatientHeader, study: StudyHeader, series: SeriesHeader, proto: StudyProtocol): Record<string, unknown> {
  const p = series.protocol;
  const chinese = patient.name.ideographic !== undefined;
  const out: Record<string, unknown> = {
    SpecificCharacterSet: chinese ? 'ISO_IR 192' : 'ISO_IR 100',
    ImageType: p.imageType,
    SOPClassUID: SopClass.MrImageStorage,
    StudyDate: study.studyDate,
    SeriesDate: study.studyDate,
    AcquisitionDate: study.studyDate,
    ContentDate: study.studyDate,
    StudyTime: study.studyTime,
    SeriesTime: series.seriesTime,
    AccessionNumber: study.accessionNumber,
    Modality: 'MR',
    Manufacturer: proto.manufacturer,
    InstitutionName: proto.institutionName,
    ReferringPhysicianName: '',
    StationName: proto.stationName,
    StudyDescription: study.studyDescription,
    SeriesDescription: p.description,
    ManufacturerModelName: proto.model,
    PatientName: chinese ? [{ Alphabetic: patient.name.alphabetic, Ideographic: patient.name.ideographic }] : patient.name.alphabetic,
    PatientID: patient.patientId,
    PatientBirthDate: patient.birthDate,
    PatientSex: patient.sex,
    PatientAge: `${String(patient.age).padStart(3, '0')}Y`,
    BodyPartExamined: proto.bodyPartExamined,
    ScanningSequence: p.scanningSequence,
    SequenceVariant: p.sequenceVariant,
    ScanOptions: p.scanOptions.length ? p.scanOptions : '',
    MRAcquisitionType: p.mrAcquisitionType,
    RepetitionTime: p.repetitionTime,
    EchoTime: p.echoTime,
    NumberOfAverages: 2,
    ImagingFrequency: ds(proto.fieldStrength * 42.577478, 6),
    ImagedNucleus: '1H',
    MagneticFieldStrength: proto.fieldStrength,
    EchoTrainLength: p.echoTrainLength,
    SoftwareVersions: proto.softwareVersions,
    ProtocolName: p.description,
    FlipAngle: p.flipAngle,
    PatientPosition: 'HFS',
    StudyInstanceUID: study.studyInstanceUid,
    SeriesInstanceUID: series.seriesInstanceUid,
    StudyID: study.studyId,
    SeriesNumber: p.seriesNumber,
    FrameOfReferenceUID: study.frameOfReferenceUid,
    PositionReferenceIndicator: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: proto.bitsStored,
    HighBit: proto.bitsStored - 1,
    PixelRepresentation: 0,
  };
  if (p.contrastAgent) {
    out.ContrastBolusAgent = p.contrastAgent;
    out.ContrastBolusRoute = 'IV';
    out.ContrastBolusVolume = 15;
  }
  if (p.diffusionBValue !== undefined) out.DiffusionBValue = p.diffusionBValue;
  if (proto.rescale && p.role !== 'adc') {
    out.RescaleIntercept = proto.rescale.intercept;
    out.RescaleSlope = proto.rescale.slope;
    out.RescaleType = 'US';
  }
  return out;
}

/** Patient orientation (row direction, column direction) letters for an LPS direction. */
function orientationLetter(v: readonly number[]): string {
  const letters: string[] = [];
  const axes: [number, string, string][] = [
    [v[0]!, 'L', 'R'],
    [v[1]!, 'P', 'A'],
    [v[2]!, 'H', 'F'],
  ];
  axes.sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]));
  for (const [c, pos, neg] of axes) if (Math.abs(c) > 0.3) letters.push(c > 0 ? pos : neg);
  return letters.join('');
}

/** One Part 10 instance (explicit VR little endian) from the series fields plus this slice. */
export function writeInstance(series: Record<string, unknown>, inst: InstanceHeader, pixels: Uint16Array, windowing: { center: number; width: number }): Buffer {
  const { plane } = inst;
  const normal = [
    plane.rowDir[1] * plane.colDir[2] - plane.rowDir[2] * plane.colDir[1],
    plane.rowDir[2] * plane.colDir[0] - plane.rowDir[0] * plane.colDir[2],
    plane.rowDir[0] * plane.colDir[1] - plane.rowDir[1] * plane.colDir[0],
  ];
  const sliceLocation = plane.origin[0] * normal[0]! + plane.origin[1] * normal[1]! + plane.origin[2] * normal[2]!;
  const dataset: Record<string, unknown> = {
    ...series,
    SOPInstanceUID: inst.sopInstanceUid,
    AcquisitionTime: inst.acquisitionTime,
    ContentTime: inst.acquisitionTime,
    SliceThickness: inst.sliceThickness,
    InstanceNumber: inst.instanceNumber,
    PatientOrientation: [orientationLetter(plane.rowDir), orientationLetter(plane.colDir)],
    ImagePositionPatient: plane.origin.map((v) => ds(v)),
    ImageOrientationPatient: [...plane.rowDir, ...plane.colDir],
    SliceLocation: ds(sliceLocation),
    Rows: plane.rows,
    Columns: plane.columns,
    PixelSpacing: plane.pixelSpacing.map((v) => ds(v, 6)),
    WindowCenter: Math.round(windowing.center),
    WindowWidth: Math.max(1, Math.round(windowing.width)),
    PixelData: [pixels.buffer.slice(pixels.byteOffset, pixels.byteOffset + pixels.byteLength)],
    _vrMap: { PixelData: 'OW' },
  };
  if (inst.spacingBetweenSlices !== undefined) dataset.SpacingBetweenSlices = inst.spacingBetweenSlices;
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SopClass.MrImageStorage,
    MediaStorageSOPInstanceUID: inst.sopInstanceUid,
    TransferSyntaxUID: TransferSyntax.ExplicitVRLittleEndian,
    ImplementationClassUID: ImplementationClassUid,
    ImplementationVersionName,
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(dict.write());
}
