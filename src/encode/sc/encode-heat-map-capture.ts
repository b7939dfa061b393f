/**
 * encodeHeatMapCapture: one scored analysis's key slice with its class-activation map as an RGB Secondary
 * Capture (or Multi-frame True Color SC, one frame) with burned-in scores and a research-use statement.
 */
import { ANALYSIS_IDS, type AnalysisId } from '../../core/analysis-ids';
import { isValidUid } from '../../dicom/uids';
import {
  codingSchemeIdentification,
  formatDicomDate,
  formatDicomTime,
  formatTimezoneOffset,
  generalEquipmentModule,
  generalStudyModule,
  patientModule,
} from '../common-modules';
import { heatMapInstanceUid, outputSeriesUid } from '../identity';
import { EncodeInputError, type EncodedObject, type HeatMapInput } from '../types';
import { writePart10, type NaturalDataset } from '../write-part10';
import { renderHeatMapPage } from './render-heat-map';
import { SC_SOP_CLASSES, scSeriesAndImageModules } from './sc-header';

function sameImage(a: { sopInstanceUid: string; frameNumber?: number }, b: { sopInstanceUid: string; frameNumber?: number }): boolean {
  return a.sopInstanceUid === b.sopInstanceUid && (a.frameNumber ?? 1) === (b.frameNumber ?? 1);
}

function validate(input: HeatMapInput): number {
  const studyUid = input.study.StudyInstanceUID;
  if (!isValidUid(studyUid)) throw new EncodeInputError(`study: invalid StudyInstanceUID ${studyUid}`);
  if (!input.result.assessable) throw new EncodeInputError(`${(input.result as { analysis: string }).analysis}: not assessable, no heat map`);
  if (input.result.studyInstanceUid !== studyUid) throw new EncodeInputError('result belongs to another study');
  if (!Number.isInteger(input.generation) || input.generation < 1) throw new EncodeInputError(`invalid generation ${input.generation}`);
  if (!(input.scSopClass in SC_SOP_CLASSES)) throw new EncodeInputError(`unknown SC SOP class ${input.scSopClass}`);
  if (!sameImage(input.slice.image, input.keyImage.image)) {
    throw new EncodeInputError('slice does not belong to the key image');
  }
  if (input.keyImage.cam && !sameImage(input.keyImage.cam.image, input.keyImage.image)) {
    throw new EncodeInputError('CAM does not belong to the key image');
  }
  const index = input.result.keyImages.findIndex((k) => sameImage(k.image, input.keyImage.image));
  if (index < 0) throw new EncodeInputError('key image is not one of the result\'s key images');
  return index;
}

/** Builds the naturalized dataset (exported for tests). */
export async function buildHeatMapCaptureDataset(input: HeatMapInput): Promise<{ dataset: NaturalDataset; sopInstanceUid: string; seriesInstanceUid: string; sopClassUid: string }> {
  const keyIndex = validate(input);
  const { result, study } = input;
  const studyUid = study.StudyInstanceUID;
  const when = input.contentDateTime ?? new Date();
  const sopClassUid = SC_SOP_CLASSES[input.scSopClass];
  const sopInstanceUid = heatMapInstanceUid(studyUid, result.analysis, result.models, input.generation, keyIndex, input.scSopClass === 'sc' ? undefined : input.scSopClass);
  const seriesInstanceUid = outputSeriesUid(studyUid, 'sc', input.generation, input.scSopClass === 'sc' ? undefined : input.scSopClass);
  const page = await renderHeatMapPage({ result, slice: input.slice, cam: input.keyImage.cam, region: input.keyImage.region });
  const camMethod = input.keyImage.cam?.method ?? 'no class-activation map available';
  const dataset: NaturalDataset = {
    SOPClassUID: sopClassUid,
    SOPInstanceUID: sopInstanceUid,
    InstanceCreationDate: formatDicomDate(when),
    InstanceCreationTime: formatDicomTime(when),
    TimezoneOffsetFromUTC: formatTimezoneOffset(when),
    CodingSchemeIdentificationSequence: codingSchemeIdentification(),
    ...patientModule(study),
    ...generalStudyModule(study),
    ...generalEquipmentModule(input.device),
    ...scSeriesAndImageModules({
      scSopClass: input.scSopClass,
      seriesInstanceUid,
      instanceNumber: instanceNumberOf(result.analysis, keyIndex),
      contentDate: formatDicomDate(when),
      contentTime: formatDicomTime(when),
      source: input.keyImage.image,
      sourceHeader: input.sourceHeader,
      derivationDescription:
        `${result.title}: ${result.valueText} (${result.probability.toFixed(2)}). Class-activation map (${camMethod}) ` +
        `blended over the source MR slice. Research use only.`,
      predecessors: input.predecessors ?? [],
      rows: page.rows,
      columns: page.columns,
      seriesDescription: 'NPC AI heat maps (research use only)',
    }),
    ImageComments: `${result.title}: ${result.valueText}. Research use only.`,
    PixelData: page.rgb.buffer.slice(page.rgb.byteOffset, page.rgb.byteOffset + page.rgb.byteLength),
  };
  return { dataset, sopInstanceUid, seriesInstanceUid, sopClassUid };
}

/** Stable instance numbers: analyses in their fixed order (ANALYSIS_IDS: 10, 20, ...), key images within. */
export function instanceNumberOf(analysis: AnalysisId, keyIndex: number): number {
  return (ANALYSIS_IDS.indexOf(analysis) + 1) * 10 + keyIndex + 1;
}

/** Encodes one heat map as a Part 10 buffer. */
export async function encodeHeatMapCapture(input: HeatMapInput): Promise<EncodedObject> {
  const { dataset, sopInstanceUid, seriesInstanceUid, sopClassUid } = await buildHeatMapCaptureDataset(input);
  return { buffer: writePart10(dataset), sopInstanceUid, seriesInstanceUid, sopClassUid };
}
