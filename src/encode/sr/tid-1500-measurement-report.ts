/**
 * TID 1500 Measurement Report (IHE AI Results): the content tree of the node's SR.
 * One measurement group per analysis: TID 1410 (planar ROI: a SCOORD around the tumour on the key slice, so
 * that viewers draw it) when a region is known, otherwise TID 1501. Not-assessable analyses get a group with
 * Finding "Undetermined" and the reason as TEXT. The research-use statement is a TEXT Comment under
 * Qualitative Evaluations.
 */
import { ANALYSES } from '../../analyses/registry';
import type { AnalysisResult, AssessedResult, ImageRef, NotAssessableResult } from '../../analyses/types';
import { ANALYSIS_IDS, type AnalysisId } from '../../core/analysis-ids';
import { LOCALISER_MEASURES, type LocaliserMeasure } from '../../infer/manifest';
import type { DeviceIdentity, ObjectRef } from '../types';
import { Dcm, Language, Loinc, Npc, Sct, Ucum, Umls, type CodedConcept } from './codes';
import {
  codeItem,
  containerItem,
  formatDecimalString,
  imageItem,
  numItem,
  rectanglePolyline,
  scoordItem,
  textItem,
  uidrefItem,
  type ContentItem,
} from './content-items';
import { algorithmIdentificationItems } from './tid-4019-algorithm-identification';

/** Human tracking identifiers, one per analysis (from the analysis registry's records). */
export const TRACKING_IDENTIFIERS: Readonly<Record<AnalysisId, string>> = Object.fromEntries(
  ANALYSIS_IDS.map((id) => [id, ANALYSES[id].report.trackingIdentifier]),
) as Record<AnalysisId, string>;

export interface MeasurementReportContext {
  device: DeviceIdentity;
  /** Images for the Image Library, grouped by series in the order given. */
  libraryImages: ImageRef[];
  /** Tracking UID per analysis. */
  trackingUids: Record<string, string>;
  heatMaps: (ObjectRef & { analysis: string })[];
  researchStatement: string;
}

/** The whole content tree: the root CONTAINER (to be merged into the dataset's top level). */
export function buildMeasurementReport(results: AnalysisResult[], ctx: MeasurementReportContext): ContentItem {
  if (results.length === 0) throw new Error('a measurement report needs at least one analysis result');
  const children: ContentItem[] = [
    codeItem('HAS CONCEPT MOD', Dcm.LanguageOfContentItemAndDescendants, Language.EnglishUs),
    ...deviceObserverItems(ctx.device),
    codeItem('HAS CONCEPT MOD', Dcm.ProcedureReported, Loinc.MriUnspecifiedBodyRegion),
    imageLibrary(ctx.libraryImages),
    containerItem(
      'CONTAINS',
      Dcm.ImagingMeasurements,
      results.map((r) => measurementGroup(r, ctx)),
    ),
    containerItem('CONTAINS', Umls.QualitativeEvaluations, [textItem('CONTAINS', Dcm.Comment, ctx.researchStatement)]),
  ];
  return containerItem(undefined, Dcm.ImagingMeasurementReport, children, { templateId: '1500' });
}

/** TID 1002 Observer Context with a device observer (TID 1004). */
export function deviceObserverItems(device: DeviceIdentity): ContentItem[] {
  return [
    codeItem('HAS OBS CONTEXT', Dcm.ObserverType, Dcm.Device),
    uidrefItem('HAS OBS CONTEXT', Dcm.DeviceObserverUid, device.deviceUid),
    textItem('HAS OBS CONTEXT', Dcm.DeviceObserverName, device.name),
    textItem('HAS OBS CONTEXT', Dcm.DeviceObserverManufacturer, device.manufacturer),
    textItem('HAS OBS CONTEXT', Dcm.DeviceObserverModelName, device.modelName),
    textItem('HAS OBS CONTEXT', Dcm.DeviceObserverSerialNumber, device.serialNumber),
  ];
}

/** TID 1600 Image Library: one group per source series, one IMAGE entry per referenced slice. */
export function imageLibrary(images: ImageRef[]): ContentItem {
  const bySeries = new Map<string, ImageRef[]>();
  const seen = new Set<string>();
  for (const image of images) {
    const key = `${image.sopInstanceUid}#${image.frameNumber ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const list = bySeries.get(image.seriesInstanceUid) ?? [];
    list.push(image);
    bySeries.set(image.seriesInstanceUid, list);
  }
  const groups = [...bySeries.values()].map((list) =>
    containerItem('CONTAINS', Dcm.ImageLibraryGroup, [
      codeItem('HAS ACQ CONTEXT', Dcm.Modality, Dcm.MagneticResonance),
      ...list.map((image) => imageItem('CONTAINS', undefined, image)),
    ]),
  );
  return containerItem('CONTAINS', Dcm.ImageLibrary, groups);
}

function riskGroupConcept(group: 'high' | 'low' | undefined, result: AssessedResult): CodedConcept {
  const g = group ?? (result.value === 'high' || result.value === 'low' ? result.value : undefined);
  if (g === 'high') return Sct.HighRisk;
  if (g === 'low') return Sct.LowRisk;
  throw new Error(`${result.analysis}: result has no risk group (value ${JSON.stringify(result.value)})`);
}

function stageConcept(value: string): CodedConcept {
  if (value === 'III') return Npc.AjccStageIII;
  if (value.toUpperCase() === 'IVA') return Npc.AjccStageIVa;
  throw new Error(`stage: unexpected value ${JSON.stringify(value)} (III or IVa)`);
}

function treatmentConcept(value: string): CodedConcept {
  if (value === 'CCRT') return Npc.TreatmentCcrt;
  if (value === 'IC+CCRT') return Npc.TreatmentIcCcrt;
  if (value === 'IBT') return Npc.TreatmentIndividualized;
  throw new Error(`residual: unexpected recommendation ${JSON.stringify(value)} (CCRT, IC+CCRT or IBT)`);
}

function requireComponent(result: AssessedResult, name: string): number {
  const v = result.components?.[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${result.analysis}: missing component ${name}`);
  return v;
}

/** Why the residual model recommends what it does, in one sentence. */
export function residualRationale(result: AssessedResult): string {
  const ccrt = requireComponent(result, 'ccrt');
  const icCcrt = requireComponent(result, 'icCcrt');
  const threshold = result.cutoff !== undefined ? `decision threshold ${formatDecimalString(result.cutoff)}` : 'model threshold';
  return (
    `P(residual tumour after CCRT) = ${ccrt.toFixed(2)}, after IC+CCRT = ${icCcrt.toFixed(2)} (${threshold}). ` +
    `Recommendation: ${result.valueText}.`
  );
}

/** The localiser measurements a model's image signature used, with their concepts and units. */
const MEASURE_CONCEPTS: Record<LocaliserMeasure, { concept: CodedConcept; unit: CodedConcept }> = {
  gtvVolumeMl: { concept: Npc.GtvVolume, unit: Ucum.Millilitre },
  gtvlnVolumeMl: { concept: Npc.GtvlnVolume, unit: Ucum.Millilitre },
  gtvAboveLargestMm: { concept: Npc.GtvExtentAbove, unit: Ucum.Millimetre },
  gtvBelowLargestMm: { concept: Npc.GtvExtentBelow, unit: Ucum.Millimetre },
  gtvlnLowestBelowLargestMm: { concept: Npc.LowestNodeBelowGtv, unit: Ucum.Millimetre },
  largestNodeDiameterMm: { concept: Npc.LargestNodeDiameter, unit: Ucum.Millimetre },
  gtvRelativeSignal: { concept: Npc.GtvRelativeSignal, unit: Ucum.NoUnits },
  gtvSignalCv: { concept: Npc.GtvSignalCv, unit: Ucum.NoUnits },
  gtvlnRelativeSignal: { concept: Npc.GtvlnRelativeSignal, unit: Ucum.NoUnits },
};

/** NUM items for the measurements among the result's components (residual's are prefixed by regimen; each once). */
export function measurementItems(result: AssessedResult): ContentItem[] {
  const seen = new Set<LocaliserMeasure>();
  const items: ContentItem[] = [];
  for (const [key, value] of Object.entries(result.components ?? {})) {
    const name = key.slice(key.lastIndexOf('.') + 1) as LocaliserMeasure;
    if (!(LOCALISER_MEASURES as readonly string[]).includes(name) || seen.has(name) || !Number.isFinite(value)) continue;
    seen.add(name);
    const { concept, unit } = MEASURE_CONCEPTS[name];
    items.push(numItem('CONTAINS', concept, value, unit));
  }
  return items;
}

/**
 * The patient's other study the result used (progression: pre- or post-treatment), as a UIDREF and, when
 * known, its date as TEXT (YYYY-MM-DD): separate items, so a reader finds which study was paired.
 */
export function priorStudyItems(result: AssessedResult): ContentItem[] {
  const p = result.priorStudy;
  if (!p) return [];
  const date = p.studyDate && /^\d{8}$/.test(p.studyDate) ? `${p.studyDate.slice(0, 4)}-${p.studyDate.slice(4, 6)}-${p.studyDate.slice(6, 8)}` : p.studyDate;
  return [uidrefItem('CONTAINS', Npc.PriorStudyInstanceUid, p.studyInstanceUid), ...(date ? [textItem('CONTAINS', Npc.PriorStudyDate, date)] : [])];
}

type ResultItems = { measurements: ContentItem[]; evaluations: ContentItem[] };

/**
 * The NUM and CODE/TEXT items that carry each analysis's answer: encode/sr's part of the analysis registry
 * (the concepts are this package's vocabulary, so they are keyed by id here rather than held by the records).
 */
const SR_RESULT_ITEMS: Record<AnalysisId, (result: AssessedResult) => ResultItems> = {
  stage: (result) => ({
    measurements: [numItem('CONTAINS', Npc.ProbabilityOfPredictedStage, result.probability, Ucum.NoUnits)],
    evaluations: [codeItem('CONTAINS', Npc.PredictedAjccStageGroup, stageConcept(result.value))],
  }),
  dmfs: (result) => ({
    measurements: [numItem('CONTAINS', Npc.DmfsRiskScore, result.probability, Ucum.NoUnits)],
    evaluations: [codeItem('CONTAINS', Npc.DmfsRiskGroup, riskGroupConcept(result.group, result))],
  }),
  msom: (result) => ({
    measurements: [numItem('CONTAINS', Npc.MsomRiskScore, result.probability, Ucum.NoUnits)],
    evaluations: [codeItem('CONTAINS', Npc.MsomRiskGroup, riskGroupConcept(result.group, result))],
  }),
  progression: (result) => ({
    measurements: [numItem('CONTAINS', Npc.ProgressionRiskProbability, result.probability, Ucum.NoUnits)],
    evaluations: [codeItem('CONTAINS', Npc.ProgressionRiskGroup, riskGroupConcept(result.group, result)), ...priorStudyItems(result)],
  }),
  residual: (result) => ({
    measurements: [
      numItem('CONTAINS', Npc.ResidualProbabilityAfterCcrt, requireComponent(result, 'ccrt'), Ucum.NoUnits),
      numItem('CONTAINS', Npc.ResidualProbabilityAfterIcCcrt, requireComponent(result, 'icCcrt'), Ucum.NoUnits),
    ],
    evaluations: [
      codeItem('CONTAINS', Npc.RecommendedTreatment, treatmentConcept(result.value)),
      textItem('CONTAINS', Npc.RecommendationRationale, residualRationale(result)),
    ],
  }),
};

/** The SR analyses this encoder can write (for the registry test: one per analysis, no orphan). */
export const SR_ENCODED_ANALYSES: readonly AnalysisId[] = Object.keys(SR_RESULT_ITEMS) as AnalysisId[];

/** One analysis as a measurement group (TID 1410 when a region is known, else TID 1501). */
export function measurementGroup(result: AnalysisResult, ctx: MeasurementReportContext): ContentItem {
  const trackingUid = ctx.trackingUids[result.analysis];
  if (!trackingUid) throw new Error(`no tracking UID for ${result.analysis}`);
  const tracking = [
    textItem('HAS OBS CONTEXT', Dcm.TrackingIdentifier, TRACKING_IDENTIFIERS[result.analysis]),
    uidrefItem('HAS OBS CONTEXT', Dcm.TrackingUniqueIdentifier, trackingUid),
  ];
  if (!result.assessable) return notAssessableGroup(result, tracking);

  const regions = result.keyImages.filter((k) => k.region);
  const withoutRegion = result.keyImages.filter((k) => !k.region);
  const { measurements, evaluations } = SR_RESULT_ITEMS[result.analysis](result);
  const children: ContentItem[] = [
    ...tracking,
    codeItem('CONTAINS', Dcm.Finding, Sct.Tumor),
    codeItem('HAS CONCEPT MOD', Sct.FindingSite, Sct.Nasopharynx),
    ...algorithmIdentificationItems(result),
    // TID 1410 allows one Image Region: the first key image with a region (the largest-tumour slice).
    ...regions.slice(0, 1).map((k) => scoordItem('CONTAINS', Dcm.ImageRegion, 'POLYLINE', rectanglePolyline(k.region!), k.image)),
    ...ctx.heatMaps
      .filter((h) => h.analysis === result.analysis)
      .map((h) => imageItem('CONTAINS', Dcm.VisualExplanation, { sopClassUid: h.sopClassUid, sopInstanceUid: h.sopInstanceUid })),
    ...measurements,
    ...measurementItems(result),
    ...evaluations,
    ...[...regions.slice(1), ...withoutRegion].map((k) => imageItem('CONTAINS', Dcm.SourceOfMeasurement, k.image)),
  ];
  return containerItem('CONTAINS', Dcm.MeasurementGroup, children);
}

function notAssessableGroup(result: NotAssessableResult, tracking: ContentItem[]): ContentItem {
  return containerItem('CONTAINS', Dcm.MeasurementGroup, [
    ...tracking,
    codeItem('CONTAINS', Dcm.Finding, Sct.Undetermined),
    codeItem('HAS CONCEPT MOD', Sct.FindingSite, Sct.Nasopharynx),
    textItem('CONTAINS', Npc.ReasonNotAssessable, `${result.title}: not assessable: ${result.reason}`),
  ]);
}
