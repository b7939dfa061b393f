/**
 * Coded concepts used in the node's SR and Secondary Capture objects, in one place.
 * DCM = DICOM (PS3.16 Annex D), SCT = SNOMED CT, LN = LOINC, UCUM = units, 99NPCAI = this product's private
 * scheme (declared in CodingSchemeIdentificationSequence). Private concepts are used only where the
 * standard has none: there is no DICOM or SNOMED code for AJCC stage IVa prediction, DMFS or MSOM scores,
 * residual tumour after CCRT, or a treatment recommendation of this kind.
 */

export interface CodedConcept {
  value: string;
  scheme: string;
  meaning: string;
}

export const PRIVATE_CODING_SCHEME = {
  designator: '99NPCAI',
  name: 'NPC AI node private concepts',
  version: '1',
  responsibleOrganization: 'NPC AI node project',
} as const;

const dcm = (value: string, meaning: string): CodedConcept => ({ value, scheme: 'DCM', meaning });
const sct = (value: string, meaning: string): CodedConcept => ({ value, scheme: 'SCT', meaning });
const npc = (value: string, meaning: string): CodedConcept => ({ value, scheme: PRIVATE_CODING_SCHEME.designator, meaning });

/** DICOM Controlled Terminology (PS3.16 Annex D). */
export const Dcm = {
  ImagingMeasurementReport: dcm('126000', 'Imaging Measurement Report'),
  LanguageOfContentItemAndDescendants: dcm('121049', 'Language of Content Item and Descendants'),
  ObserverType: dcm('121005', 'Observer Type'),
  Device: dcm('121007', 'Device'),
  DeviceObserverUid: dcm('121012', 'Device Observer UID'),
  DeviceObserverName: dcm('121013', 'Device Observer Name'),
  DeviceObserverManufacturer: dcm('121014', 'Device Observer Manufacturer'),
  DeviceObserverModelName: dcm('121015', 'Device Observer Model Name'),
  DeviceObserverSerialNumber: dcm('121016', 'Device Observer Serial Number'),
  ProcedureReported: dcm('121058', 'Procedure reported'),
  ImageLibrary: dcm('111028', 'Image Library'),
  ImageLibraryGroup: dcm('126200', 'Image Library Group'),
  Modality: dcm('121139', 'Modality'),
  MagneticResonance: dcm('MR', 'Magnetic Resonance'),
  ImagingMeasurements: dcm('126010', 'Imaging Measurements'),
  MeasurementGroup: dcm('125007', 'Measurement Group'),
  TrackingIdentifier: dcm('112039', 'Tracking Identifier'),
  TrackingUniqueIdentifier: dcm('112040', 'Tracking Unique Identifier'),
  Finding: dcm('121071', 'Finding'),
  AlgorithmName: dcm('111001', 'Algorithm Name'),
  AlgorithmVersion: dcm('111003', 'Algorithm Version'),
  AlgorithmParameters: dcm('111002', 'Algorithm Parameters'),
  ImageRegion: dcm('111030', 'Image Region'),
  SourceOfMeasurement: dcm('121112', 'Source of Measurement'),
  VisualExplanation: dcm('130401', 'Visual Explanation'),
  GradientWeightedClassActivation: dcm('130403', 'Gradient-weighted class activation'),
  SourceImageForImageProcessingOperation: dcm('121322', 'Source image for image processing operation'),
  ProcessingEquipment: dcm('109102', 'Processing Equipment'),
  Comment: dcm('121106', 'Comment'),
  ReferencedSegment: dcm('121191', 'Referenced Segment'),
  SourceSeriesForSegmentation: dcm('121232', 'Source series for segmentation'),
} as const;

/** SNOMED CT. */
export const Sct = {
  FindingSite: sct('363698007', 'Finding Site'),
  Nasopharynx: sct('360955006', 'Nasopharynx'),
  Tumor: sct('108369006', 'Tumor'),
  Undetermined: sct('373068000', 'Undetermined'),
  /** CID 3118-style level of risk. */
  HighRisk: sct('15508007', 'High risk'),
  LowRisk: sct('75976002', 'Low risk'),
} as const;

/** LOINC (CID 100 Quantitative Diagnostic Imaging Procedures). */
export const Loinc = {
  MriUnspecifiedBodyRegion: { value: '25056-3', scheme: 'LN', meaning: 'MRI unspecified body region' } as CodedConcept,
} as const;

/** UMLS (TID 1500 Qualitative Evaluations container). */
export const Umls = {
  QualitativeEvaluations: { value: 'C0034375', scheme: 'UMLS', meaning: 'Qualitative Evaluations' } as CodedConcept,
} as const;

/** RFC 5646 language tags. */
export const Language = {
  EnglishUs: { value: 'en-US', scheme: 'RFC5646', meaning: 'English (United States)' } as CodedConcept,
} as const;

/** UCUM units. */
export const Ucum = {
  NoUnits: { value: '1', scheme: 'UCUM', meaning: 'no units' } as CodedConcept,
  Millilitre: { value: 'ml', scheme: 'UCUM', meaning: 'milliliter' } as CodedConcept,
  Millimetre: { value: 'mm', scheme: 'UCUM', meaning: 'millimeter' } as CodedConcept,
} as const;

/** 99NPCAI: the node's private concepts (see docs/sr-content.md for their definitions). */
export const Npc = {
  PredictedAjccStageGroup: npc('NPC-STAGE', 'Predicted AJCC stage group'),
  AjccStageIII: npc('NPC-STAGE-III', 'AJCC stage III'),
  AjccStageIVa: npc('NPC-STAGE-IVA', 'AJCC stage IVa'),
  /** The networks' probability of stage IVa (the positive class), whichever stage is predicted. */
  ProbabilityOfStageIVa: npc('NPC-STAGE-P', 'Probability of AJCC stage IVa'),
  DmfsRiskScore: npc('NPC-DMFS-SCORE', 'DMFS risk score'),
  DmfsRiskGroup: npc('NPC-DMFS-GROUP', 'DMFS risk group'),
  MsomRiskScore: npc('NPC-MSOM-SCORE', 'MSOM risk score'),
  MsomRiskGroup: npc('NPC-MSOM-GROUP', 'MSOM risk group'),
  ResidualProbabilityAfterCcrt: npc('NPC-RES-CCRT', 'Probability of residual tumour after CCRT'),
  ResidualProbabilityAfterIcCcrt: npc('NPC-RES-ICCCRT', 'Probability of residual tumour after IC+CCRT'),
  RecommendedTreatment: npc('NPC-RES-REC', 'Recommended treatment'),
  RecommendationRationale: npc('NPC-RES-WHY', 'Recommendation rationale'),
  TreatmentCcrt: npc('NPC-TX-CCRT', 'Concurrent chemoradiotherapy (CCRT)'),
  TreatmentIcCcrt: npc('NPC-TX-ICCCRT', 'Induction chemotherapy plus CCRT (IC+CCRT)'),
  TreatmentIndividualized: npc('NPC-TX-IBT', 'Individualized intensified treatment'),
  ProgressionRiskProbability: npc('NPC-PROG-P', 'Probability of progression'),
  ProgressionRiskGroup: npc('NPC-PROG-GROUP', 'Progression risk group'),
  ReasonNotAssessable: npc('NPC-NA-REASON', 'Reason analysis not assessable'),
  AnalysisSummary: npc('NPC-SUMMARY', 'Analysis result without an image region'),
  PriorStudyInstanceUid: npc('NPC-PRIOR-UID', 'Other study used: Study Instance UID'),
  PriorStudyDate: npc('NPC-PRIOR-DATE', 'Other study used: study date'),
  GtvVolume: npc('NPC-GTV-VOL', 'GTV volume (localiser)'),
  GtvlnVolume: npc('NPC-GTVLN-VOL', 'GTVln volume (localiser)'),
  GtvExtentAbove: npc('NPC-GTV-ABOVE', 'GTV extent above its largest slice'),
  GtvExtentBelow: npc('NPC-GTV-BELOW', 'GTV extent below its largest slice'),
  LowestNodeBelowGtv: npc('NPC-LN-LOWEST', 'Lowest node below the GTV largest slice'),
  LargestNodeDiameter: npc('NPC-LN-DIAM', 'Largest node equivalent diameter'),
  GtvRelativeSignal: npc('NPC-GTV-SIG', 'GTV mean signal relative to series 99th percentile'),
  GtvSignalCv: npc('NPC-GTV-CV', 'GTV signal coefficient of variation'),
  GtvlnRelativeSignal: npc('NPC-LN-SIG', 'GTVln mean signal relative to series 99th percentile'),
  ReplacedHeatMap: npc('NPC-REPLACES', 'Replaced heat map of an earlier analysis'),
} as const;

/** The code a DICOM code sequence item holds. */
export interface CodeSequenceItem {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}

/** A concept as a code sequence item (CodeValue <= 16 chars; longer values would need LongCodeValue). */
export function codeSequenceItem(concept: CodedConcept): CodeSequenceItem {
  if (concept.value.length > 16) throw new Error(`code value too long for CodeValue: ${concept.value}`);
  return { CodeValue: concept.value, CodingSchemeDesignator: concept.scheme, CodeMeaning: concept.meaning };
}

/** Every concept defined here, for tests and documentation. */
export function allConcepts(): CodedConcept[] {
  return [Dcm, Sct, Loinc, Umls, Language, Ucum, Npc].flatMap((table) => Object.values(table) as CodedConcept[]);
}
