/**
 * encodeStructuredReport: the node's results for one study as a DICOM SR (TID 1500, IHE AI Results), in the
 * SOP class the destination takes (Comprehensive 3D SR by default, Comprehensive or Enhanced SR as
 * fallbacks: the tree uses no SCOORD3D, so it is valid in all three).
 */
import { RESEARCH_USE_STATEMENT, type AnalysisResult, type ImageRef } from '../../analyses/types';
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
import { outputSeriesUid, reportInstanceUid, reportVersionKey, trackingUid } from '../identity';
import { EncodeInputError, type EncodedObject, type ReportInput } from '../types';
import { writePart10, type NaturalDataset } from '../write-part10';
import { buildMeasurementReport } from './tid-1500-measurement-report';
import {
  contributingEquipment,
  hierarchicalReferences,
  predecessorReferences,
  SR_SOP_CLASSES,
  srDocumentGeneralModule,
  srDocumentSeriesModule,
} from './sr-document';

/** Series number of the SR series (heat maps use 9901). */
export const SR_SERIES_NUMBER = 9900;

function validateInput(input: ReportInput): void {
  const studyUid = input.study.StudyInstanceUID;
  if (!isValidUid(studyUid)) throw new EncodeInputError(`study: invalid StudyInstanceUID ${studyUid}`);
  if (!Number.isInteger(input.generation) || input.generation < 1) {
    throw new EncodeInputError(`generation must be a positive integer, got ${input.generation}`);
  }
  if (!(input.srSopClass in SR_SOP_CLASSES)) throw new EncodeInputError(`unknown SR SOP class ${input.srSopClass}`);
  if (input.results.length === 0) throw new EncodeInputError('no analysis results to report');
  const analyses = new Set<string>();
  for (const r of input.results) {
    if (analyses.has(r.analysis)) throw new EncodeInputError(`analysis ${r.analysis} reported twice`);
    analyses.add(r.analysis);
    if (r.studyInstanceUid !== studyUid) {
      throw new EncodeInputError(`result ${r.analysis} belongs to study ${r.studyInstanceUid}, not ${studyUid}`);
    }
    if (r.assessable && !(r.probability >= 0 && r.probability <= 1)) {
      throw new EncodeInputError(`result ${r.analysis}: probability ${r.probability} outside 0..1`);
    }
  }
  if (!isValidUid(input.device.deviceUid)) throw new EncodeInputError(`device: invalid Device UID ${input.device.deviceUid}`);
}

/** Every image the report references (library = source instances plus key images). */
function libraryImages(input: ReportInput): ImageRef[] {
  const images: ImageRef[] = input.sourceInstances.map((s) => s.image);
  for (const r of input.results) if (r.assessable) for (const k of r.keyImages) images.push(k.image);
  const seen = new Set<string>();
  return images.filter((i) => {
    const key = `${i.sopInstanceUid}#${i.frameNumber ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Builds the naturalized SR dataset (exported for tests and tools). */
export function buildStructuredReportDataset(input: ReportInput): { dataset: NaturalDataset; sopInstanceUid: string; seriesInstanceUid: string; sopClassUid: string } {
  validateInput(input);
  const study = input.study;
  const studyUid = study.StudyInstanceUID;
  const when = input.contentDateTime ?? new Date();
  const sopClassUid = SR_SOP_CLASSES[input.srSopClass];
  const sopInstanceUid = reportInstanceUid(studyUid, input.results, input.generation, input.srSopClass === 'comprehensive3d' ? undefined : input.srSopClass);
  const seriesInstanceUid = outputSeriesUid(studyUid, 'sr', input.generation, input.srSopClass === 'comprehensive3d' ? undefined : input.srSopClass);
  const versionKey = reportVersionKey(input.results);
  const trackingUids: Record<string, string> = {};
  for (const r of input.results) trackingUids[r.analysis] = trackingUid(studyUid, r.analysis, versionKey, input.generation);

  const images = libraryImages(input);
  const statement = input.results.find((r) => r.statement)?.statement ?? RESEARCH_USE_STATEMENT;
  const root = buildMeasurementReport(input.results, {
    device: input.device,
    libraryImages: images,
    trackingUids,
    heatMaps: input.heatMaps ?? [],
    researchStatement: statement,
    ...(input.segmentation ? { segmentation: input.segmentation } : {}),
  });
  const models = input.results.flatMap((r: AnalysisResult) => (r.assessable ? r.models : []));
  const heatMapRefs = (input.heatMaps ?? []).map((h) => ({ ...h, studyInstanceUid: h.studyInstanceUid ?? studyUid }));

  const dataset: NaturalDataset = {
    // SOP Common
    SOPClassUID: sopClassUid,
    SOPInstanceUID: sopInstanceUid,
    InstanceCreationDate: formatDicomDate(when),
    InstanceCreationTime: formatDicomTime(when),
    TimezoneOffsetFromUTC: formatTimezoneOffset(when),
    CodingSchemeIdentificationSequence: codingSchemeIdentification(),
    ContributingEquipmentSequence: contributingEquipment(input.device, models, when),
    // Patient, General Study
    ...patientModule(study),
    ...generalStudyModule(study),
    // SR Document Series, General Equipment
    ...srDocumentSeriesModule(seriesInstanceUid, SR_SERIES_NUMBER),
    ...generalEquipmentModule(input.device),
    // SR Document General
    ...srDocumentGeneralModule({
      instanceNumber: input.generation,
      contentDate: formatDicomDate(when),
      contentTime: formatDicomTime(when),
      // The SEG is evidence the report's groups reference (TID 1411 Referenced Segment), like the MR images.
      evidence: hierarchicalReferences([
        ...images,
        ...(input.segmentation ? [{ ...input.segmentation, studyInstanceUid: studyUid }] : []),
      ]),
      otherEvidence: hierarchicalReferences(heatMapRefs),
      predecessors: predecessorReferences(input.predecessors ?? [], studyUid),
    }),
    // SR Document Content: the root container's attributes sit at the top level of the dataset.
    ...root,
  };
  return { dataset, sopInstanceUid, seriesInstanceUid, sopClassUid };
}

/** Encodes the SR as a Part 10 buffer. Throws EncodeInputError for input it cannot report faithfully. */
export function encodeStructuredReport(input: ReportInput): EncodedObject {
  const { dataset, sopInstanceUid, seriesInstanceUid, sopClassUid } = buildStructuredReportDataset(input);
  return { buffer: writePart10(dataset), sopInstanceUid, seriesInstanceUid, sopClassUid };
}
