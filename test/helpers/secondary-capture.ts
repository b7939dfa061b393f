/**
 * Small, valid DICOM objects for delivery tests: a Secondary Capture Image (PS3.3 A.8.1) written with
 * dcmjs as Explicit VR Little Endian, UTF-8 text (ISO_IR 192), 16x16 8-bit MONOCHROME2 pixels.
 */
import { SopClass, TransferSyntax, ImplementationClassUid, ImplementationVersionName, newUid } from '../../src/dicom/uids';

// dcmjs ships no types; declare only what is used here.
interface DcmjsData {
  DicomDict: new (meta: Record<string, unknown>) => { dict: Record<string, unknown>; write(): ArrayBuffer };
  DicomMetaDictionary: {
    denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
  };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs') as { data: DcmjsData };

export interface SecondaryCaptureSpec {
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  patientName?: string;
  patientId?: string;
  seriesNumber?: number;
  instanceNumber?: number;
  /** Seeds the pixel pattern so that different objects have different pixels. */
  seed?: number;
}

export interface SecondaryCapture {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  patientName: string;
  data: Buffer;
}

export function makeSecondaryCapture(spec: SecondaryCaptureSpec = {}): SecondaryCapture {
  const studyInstanceUid = spec.studyInstanceUid ?? newUid();
  const seriesInstanceUid = spec.seriesInstanceUid ?? newUid();
  const sopInstanceUid = spec.sopInstanceUid ?? newUid();
  const patientName = spec.patientName ?? '王^伟';
  const rows = 16;
  const cols = 16;
  const pixels = new Uint8Array(rows * cols);
  const seed = spec.seed ?? 1;
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + seed * 31) & 0xff;

  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SopClass.SecondaryCaptureImageStorage,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: TransferSyntax.ExplicitVRLittleEndian,
    ImplementationClassUID: ImplementationClassUid,
    ImplementationVersionName,
  };
  const dataset: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 192',
    ImageType: ['DERIVED', 'SECONDARY'],
    SOPClassUID: SopClass.SecondaryCaptureImageStorage,
    SOPInstanceUID: sopInstanceUid,
    StudyDate: '20240102',
    StudyTime: '101500',
    AccessionNumber: 'A1',
    Modality: 'OT',
    ConversionType: 'WSD',
    ReferringPhysicianName: '',
    PatientName: [{ Alphabetic: patientName }],
    PatientID: spec.patientId ?? 'P-DELIVER-1',
    PatientBirthDate: '',
    PatientSex: 'M',
    StudyInstanceUID: studyInstanceUid,
    SeriesInstanceUID: seriesInstanceUid,
    StudyID: '1',
    SeriesNumber: spec.seriesNumber ?? 900,
    InstanceNumber: spec.instanceNumber ?? 1,
    PatientOrientation: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: rows,
    Columns: cols,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OB' },
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
  const data = Buffer.from(dict.write());
  return { studyInstanceUid, seriesInstanceUid, sopInstanceUid, sopClassUid: SopClass.SecondaryCaptureImageStorage, patientName, data };
}
