/**
 * What the store knows about a received instance, shared by receive/ (writes), assemble/ (groups),
 * select/ and prepare/ (read). Attribute names keep their DICOM keywords.
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

export interface StoredInstance {
  sopInstanceUid: string;
  sopClassUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
  calledAeTitle: string;
  callingAeTitle: string;
  /** Absolute path of the stored Part 10 file (bytes exactly as received). */
  path: string;
  size: number;
  sha256: string;
  receivedAt: string;
  header: InstanceHeader;
}

/** Emitted after an instance is durably stored and indexed (also for an idempotent duplicate). */
export interface InstanceStoredEvent {
  instance: StoredInstance;
  /** True when an identical instance was already stored (nothing changed on disk). */
  duplicate: boolean;
  via: 'dimse' | 'stow';
  /**
   * True when the priors stage retrieved it (C-GET, WADO-RS) as a patient's other study: the assembler
   * records it but starts no analysis of its own. (C-MOVE arrivals come through the DIMSE listener
   * unflagged; PriorRetrieval.isPriorStudy tells those apart.)
   */
  prior?: boolean;
}
