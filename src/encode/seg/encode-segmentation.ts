/**
 * encodeSegmentation: the localiser's GTV (primary tumour) and GTVln (metastatic nodes) as one binary DICOM
 * Segmentation (SEG IOD) on the CE-T1 series' geometry, one segment each (IHE AIR's "regions"):
 * - sop: SOP Common, Patient / General Study copied from the MR, SEG series, Frame of Reference of the source
 *   series, General and Enhanced General Equipment (the node), deterministic UIDs (encode/identity.ts);
 * - content: one frame per (segment, slice with pixels) -- empty frames are left out as highdicom does by
 *   default -- with Plane Position, Segment Identification, Frame Content (Dimension Index: segment number,
 *   then the position among the SEG's planes) and a Derivation Image reference to the source slice;
 *   orientation and pixel spacing shared; pixels bit-packed (BitsAllocated 1);
 * - codes: see ./codes.ts.
 * Built by hand and written with dcmjs's writer like the SR and SC: dcmjs's Segmentation derivation draws
 * random UIDs, wants the source normalised to an enhanced multi-frame first, labels every SEG "SEGMENTATION"
 * and writes no Derivation Image Sequence for frames of single-frame sources.
 */
import type { LocalisationResult } from '../../analyses/localisation';
import type { ImageRef, ModelIdentity } from '../../analyses/types';
import { isValidUid, deterministicUid } from '../../dicom/uids';
import type { Slice, Volume } from '../../prepare/volume-types';
import type { InstanceHeader } from '../../store/instance-types';
import {
  formatDicomDate,
  formatDicomTime,
  formatTimezoneOffset,
  generalEquipmentModule,
  generalStudyModule,
  patientModule,
} from '../common-modules';
import { outputSeriesUid, segmentationInstanceUid } from '../identity';
import { codeSequenceItem, type CodedConcept } from '../sr/codes';
import { EncodeInputError, type DeviceIdentity, type EncodedObject } from '../types';
import { writePart10, type NaturalDataset } from '../write-part10';
import { SegCodes } from './codes';
import { framesOf, packBinaryFrames, type SegmentFrame, type SliceMask } from './segment-frames';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';
/** Series number of the SEG series (next to the SR's and the heat maps' 99xx). */
export const SEG_SERIES_NUMBER = 9902;
export const RESEARCH_USE = 'Research use only; not for diagnostic use.';

export type SegmentRegion = 'gtv' | 'gtvln';

/** One slice of the localised series with the localiser's masks (a LocalisationResult's slice fits). */
export interface SegmentationSliceInput {
  slice: Slice;
  regions: { gtvMask?: SliceMask; gtvlnMask?: SliceMask };
}

export interface SegmentationInput {
  /** Patient and General Study are copied from it. */
  study: InstanceHeader;
  /** The localiser's output: its volume (the CE-T1 series), model identity and per-slice masks. */
  localisation: { volume: Volume; model: ModelIdentity; slices: readonly SegmentationSliceInput[] };
  /** A header of the localised series (FrameOfReferenceUID, SliceThickness, BodyPartExamined). */
  sourceHeader: InstanceHeader;
  /** 1 for the first analysis of the study, +1 for each re-analysis (new UIDs: a re-analysis replaces it). */
  generation: number;
  device: DeviceIdentity;
  /** ContentDate/Time; defaults to now. Pass a fixed value for byte-identical re-encoding. */
  contentDateTime?: Date;
}

/** What the SR needs to reference a segment (ReferencedSegment / the region each analysis used). */
export interface EncodedSegment {
  segmentNumber: number;
  region: SegmentRegion;
  label: string;
  /** The SEG's frames of this segment (1-based frame numbers) and the source slice each lies on. */
  frames: { frameNumber: number; source: ImageRef }[];
}

export interface EncodedSegmentation extends EncodedObject {
  segments: EncodedSegment[];
  frameOfReferenceUid: string;
}

interface SegmentDefinition {
  region: SegmentRegion;
  label: string;
  description: string;
  type: CodedConcept;
  anatomy: CodedConcept;
  /** RecommendedDisplayCIELabValue (PS3.3 C.10.7.1.1 scaling) of red / yellow. */
  cieLab: [number, number, number];
}

const SEGMENTS: SegmentDefinition[] = [
  { region: 'gtv', label: 'GTV', description: 'Primary tumour (GTVnx)', type: SegCodes.NeoplasmPrimary, anatomy: SegCodes.Nasopharynx, cieLab: [34886, 53484, 50172] },
  { region: 'gtvln', label: 'GTVln', description: 'Metastatic lymph nodes', type: SegCodes.NeoplasmSecondary, anatomy: SegCodes.LymphNode, cieLab: [63660, 27356, 57178] },
];

const maskOf = (s: SegmentationSliceInput, region: SegmentRegion): SliceMask | undefined => (region === 'gtv' ? s.regions.gtvMask : s.regions.gtvlnMask);

function validate(input: SegmentationInput): string {
  const studyUid = input.study.StudyInstanceUID;
  if (!isValidUid(studyUid)) throw new EncodeInputError(`study: invalid StudyInstanceUID ${studyUid}`);
  if (!Number.isInteger(input.generation) || input.generation < 1) throw new EncodeInputError(`invalid generation ${input.generation}`);
  const { volume, slices } = input.localisation;
  if (!slices.length) throw new EncodeInputError('localisation has no slices');
  const forUid = input.sourceHeader.FrameOfReferenceUID;
  if (typeof forUid !== 'string' || !isValidUid(forUid)) throw new EncodeInputError('source series has no valid FrameOfReferenceUID (a SEG needs one)');
  if (input.sourceHeader.SeriesInstanceUID !== undefined && input.sourceHeader.SeriesInstanceUID !== volume.seriesInstanceUid) {
    throw new EncodeInputError('sourceHeader is not of the localised series');
  }
  for (const s of slices) {
    if (s.slice.image.seriesInstanceUid !== volume.seriesInstanceUid) throw new EncodeInputError('a slice is not of the localised series');
    if (s.slice.image.studyInstanceUid !== studyUid) throw new EncodeInputError('a slice belongs to another study');
  }
  const { rows, columns } = slices[0]!.slice;
  if (slices.some((s) => s.slice.rows !== rows || s.slice.columns !== columns)) {
    throw new EncodeInputError('slices of different matrix sizes: one SEG needs one Rows x Columns');
  }
  return forUid;
}

const ds6 = (v: number): number => Number(v.toPrecision(10));

/** Builds the naturalized dataset (exported for tests). */
export function buildSegmentationDataset(input: SegmentationInput): { dataset: NaturalDataset; result: Omit<EncodedSegmentation, 'buffer'> } {
  const frameOfReferenceUid = validate(input);
  const { study, localisation } = input;
  const { volume, model } = localisation;
  const studyUid = study.StudyInstanceUID;
  const when = input.contentDateTime ?? new Date();
  const { rows, columns } = localisation.slices[0]!.slice;

  const present = SEGMENTS.map((def) => ({ def, frames: framesOf(localisation.slices.map((s) => ({ slice: s.slice, mask: maskOf(s, def.region) }))) })).filter(
    (s) => s.frames.length > 0,
  );
  if (!present.length) throw new EncodeInputError('the localiser found neither tumour nor nodes: no SEG to write');

  const sopInstanceUid = segmentationInstanceUid(studyUid, volume.seriesInstanceUid, model, input.generation);
  const seriesInstanceUid = outputSeriesUid(studyUid, 'seg', input.generation);
  const dimensionOrganizationUid = deterministicUid(`npcai-encode-v1|seg-dimensions|${sopInstanceUid}`);
  const algorithmName = `${model.id} ${model.version}`.slice(0, 64);

  // Dimension index of a plane: its rank among the distinct slices the SEG has frames on (1-based).
  const planeIndices = [...new Set(present.flatMap((s) => s.frames.map((f) => f.sliceIndex)))].sort((a, b) => a - b);
  const planeIndex = new Map(planeIndices.map((sliceIndex, i) => [sliceIndex, i + 1]));

  const frames: { segmentNumber: number; frame: SegmentFrame }[] = [];
  const segmentSequence: NaturalDataset[] = [];
  const segments: EncodedSegment[] = [];
  present.forEach(({ def, frames: segFrames }, i) => {
    const segmentNumber = i + 1;
    segmentSequence.push({
      SegmentNumber: segmentNumber,
      SegmentLabel: def.label,
      SegmentDescription: def.description,
      SegmentAlgorithmType: 'AUTOMATIC',
      SegmentAlgorithmName: algorithmName,
      SegmentationAlgorithmIdentificationSequence: [
        {
          AlgorithmFamilyCodeSequence: [codeSequenceItem(SegCodes.ArtificialIntelligence)],
          AlgorithmName: model.name.slice(0, 64) || model.id,
          AlgorithmVersion: model.version.slice(0, 64),
        },
      ],
      SegmentedPropertyCategoryCodeSequence: [codeSequenceItem(SegCodes.MorphologicallyAlteredStructure)],
      SegmentedPropertyTypeCodeSequence: [codeSequenceItem(def.type)],
      AnatomicRegionSequence: [codeSequenceItem(def.anatomy)],
      RecommendedDisplayCIELabValue: def.cieLab,
      TrackingID: def.label,
      TrackingUID: deterministicUid(`npcai-encode-v1|seg-tracking|${sopInstanceUid}|${def.region}`),
    });
    const first = frames.length + 1;
    segFrames.forEach((frame) => frames.push({ segmentNumber, frame }));
    segments.push({
      segmentNumber,
      region: def.region,
      label: def.label,
      frames: segFrames.map((f, k) => ({ frameNumber: first + k, source: f.slice.image })),
    });
  });

  const perFrame: NaturalDataset[] = frames.map(({ segmentNumber, frame }) => ({
    DerivationImageSequence: [
      {
        SourceImageSequence: [
          {
            ReferencedSOPClassUID: frame.slice.image.sopClassUid,
            ReferencedSOPInstanceUID: frame.slice.image.sopInstanceUid,
            ...(frame.slice.image.frameNumber !== undefined ? { ReferencedFrameNumber: frame.slice.image.frameNumber } : {}),
            PurposeOfReferenceCodeSequence: [codeSequenceItem(SegCodes.SourceImageForImageProcessingOperation)],
          },
        ],
        DerivationCodeSequence: [codeSequenceItem(SegCodes.Segmentation)],
      },
    ],
    FrameContentSequence: [{ DimensionIndexValues: [segmentNumber, planeIndex.get(frame.sliceIndex)!] }],
    PlanePositionSequence: [{ ImagePositionPatient: frame.slice.position.map(ds6) }],
    SegmentIdentificationSequence: [{ ReferencedSegmentNumber: segmentNumber }],
  }));

  // Common Instance Reference: every source instance a frame derives from, once, in slice order.
  const referenced = new Map<string, ImageRef>();
  for (const { frame } of [...frames].sort((a, b) => a.frame.sliceIndex - b.frame.sliceIndex)) referenced.set(frame.slice.image.sopInstanceUid, frame.slice.image);

  const sliceThickness = Number(input.sourceHeader.SliceThickness);
  const pixelMeasures: NaturalDataset = {
    PixelSpacing: localisation.slices[0]!.slice.pixelSpacing.map(ds6),
    SliceThickness: ds6(Number.isFinite(sliceThickness) && sliceThickness > 0 ? sliceThickness : volume.sliceSpacing),
  };
  const bodyPart = typeof input.sourceHeader.BodyPartExamined === 'string' && input.sourceHeader.BodyPartExamined ? input.sourceHeader.BodyPartExamined : 'HEAD';
  const contentDate = formatDicomDate(when);
  const contentTime = formatDicomTime(when);
  const packed = packBinaryFrames(frames.map((f) => f.frame.pixels));

  const dataset: NaturalDataset = {
    SOPClassUID: SEGMENTATION_STORAGE,
    SOPInstanceUID: sopInstanceUid,
    InstanceCreationDate: contentDate,
    InstanceCreationTime: contentTime,
    TimezoneOffsetFromUTC: formatTimezoneOffset(when),
    ...patientModule(study),
    ...generalStudyModule(study),
    // General Series + Segmentation Series
    Modality: 'SEG',
    SeriesInstanceUID: seriesInstanceUid,
    SeriesNumber: SEG_SERIES_NUMBER,
    SeriesDescription: 'NPC AI tumour and nodes (research use only)',
    BodyPartExamined: bodyPart,
    // Frame of Reference (the source series')
    FrameOfReferenceUID: frameOfReferenceUid,
    PositionReferenceIndicator: '',
    // General + Enhanced General Equipment
    ...generalEquipmentModule(input.device),
    // General Image / Segmentation Image (Content Identification)
    InstanceNumber: 1,
    ContentDate: contentDate,
    ContentTime: contentTime,
    ImageType: ['DERIVED', 'PRIMARY'],
    ContentLabel: 'NPC_AI_GTV',
    ContentDescription: `Tumour and nodes (automatic). ${RESEARCH_USE}`.slice(0, 64),
    ContentCreatorName: '',
    ImageComments: `Automatic segmentation by ${algorithmName} (NPC AI node). ${RESEARCH_USE}`,
    SegmentationType: 'BINARY',
    SegmentSequence: segmentSequence,
    // Image Pixel
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: rows,
    Columns: columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    // Multi-frame Functional Groups + Dimensions
    NumberOfFrames: frames.length,
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: volume.orientation.map(ds6) }],
        PixelMeasuresSequence: [pixelMeasures],
      },
    ],
    PerFrameFunctionalGroupsSequence: perFrame,
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUid }],
    DimensionOrganizationType: '3D',
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionOrganizationUid,
        DimensionIndexPointer: 0x0062000b, // ReferencedSegmentNumber
        FunctionalGroupPointer: 0x0062000a, // SegmentIdentificationSequence
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
      {
        DimensionOrganizationUID: dimensionOrganizationUid,
        DimensionIndexPointer: 0x00200032, // ImagePositionPatient
        FunctionalGroupPointer: 0x00209113, // PlanePositionSequence
        DimensionDescriptionLabel: 'ImagePositionPatient',
      },
    ],
    // Common Instance Reference
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: volume.seriesInstanceUid,
        ReferencedInstanceSequence: [...referenced.values()].map((r) => ({ ReferencedSOPClassUID: r.sopClassUid, ReferencedSOPInstanceUID: r.sopInstanceUid })),
      },
    ],
    PixelData: packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength),
  };
  return { dataset, result: { sopInstanceUid, seriesInstanceUid, sopClassUid: SEGMENTATION_STORAGE, segments, frameOfReferenceUid } };
}

/** Encodes the localiser's GTV and GTVln as a Part 10 SEG. */
export function encodeSegmentation(input: SegmentationInput): EncodedSegmentation {
  const { dataset, result } = buildSegmentationDataset(input);
  return { ...result, buffer: writePart10(dataset) };
}

/** The localisation as encodeSegmentation takes it (LocalisationResult already has this shape). */
export function segmentationSourceOf(localisation: LocalisationResult): SegmentationInput['localisation'] {
  return { volume: localisation.volume, model: localisation.model, slices: localisation.slices };
}
