/**
 * The header of a received instance as the store indexes it, read by dicom/ (which parses it), store/,
 * assemble/, select/, prepare/ and encode/. Lives in core/ so dicom/ need not import from store/.
 */

/** Header attributes kept in the index (JSON, no pixel data), as dcmjs naturalizes them. */
export interface InstanceHeader {
  SpecificCharacterSet?: string | string[];
  SOPClassUID: string;
  SOPInstanceUID: string;
  StudyInstanceUID: string;
  SeriesInstanceUID: string;
  Modality?: string;
  PatientID?: string;
  IssuerOfPatientID?: string;
  /** Naturalized PN: [{ Alphabetic, Ideographic?, Phonetic? }] decoded from the source character set. */
  PatientName?: unknown;
  PatientBirthDate?: string;
  PatientSex?: string;
  PatientAge?: string;
  StudyDate?: string;
  StudyTime?: string;
  StudyID?: string;
  AccessionNumber?: string;
  StudyDescription?: string;
  ReferringPhysicianName?: unknown;
  SeriesNumber?: number;
  SeriesDescription?: string;
  ProtocolName?: string;
  InstanceNumber?: number;
  ImageType?: string[] | string;
  Manufacturer?: string;
  ManufacturerModelName?: string;
  MagneticFieldStrength?: number;
  ScanningSequence?: string[] | string;
  SequenceVariant?: string[] | string;
  ScanOptions?: string[] | string;
  RepetitionTime?: number;
  EchoTime?: number;
  InversionTime?: number;
  ContrastBolusAgent?: string;
  ImageOrientationPatient?: number[];
  ImagePositionPatient?: number[];
  PixelSpacing?: number[];
  SliceThickness?: number;
  SpacingBetweenSlices?: number;
  Rows?: number;
  Columns?: number;
  NumberOfFrames?: number;
  BitsAllocated?: number;
  BitsStored?: number;
  PixelRepresentation?: number;
  RescaleSlope?: number;
  RescaleIntercept?: number;
  BodyPartExamined?: string;
  [keyword: string]: unknown;
}
