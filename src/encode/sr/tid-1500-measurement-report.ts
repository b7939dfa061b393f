/**
 * TID 1500 Measurement Report (IHE AI Results): the content tree of the node's SR.
 * Every Measurement Group has a drawable region: one per assessed analysis with a region on its key slice, as
 * TID 1411 (Volumetric ROI Measurements: Referenced Segment + Source series for segmentation) when the
 * localiser's SEG is sent with it, else TID 1501; its first NUM is INFERRED FROM a closed POLYLINE SCOORD around
 * the tumour on the key slice (TID 300 / TID 320), the shape the cornerstone adapters write and OHIF restores
 * into its measurements panel. Not-assessable analyses (and assessed ones without a region) never become a
 * group: they are stated under Qualitative Evaluations (CODE answer = Undetermined + TEXT reason), where no
 * viewer looks for coordinates. See docs/sr-content.md.
 */
import { ANALYSES } from '../../analyses/registry';
import type { AnalysisResult, AssessedResult, ImageRef } from '../../analyses/types';
import { ANALYSIS_IDS, type AnalysisId } from '../../core/analysis-ids';
import { LOCALISER_MEASURES, type LocaliserMeasure } from '../../infer/manifest';
import type { DeviceIdentity, ObjectRef, SegmentationReference } from '../types';

export type { SegmentationReference };
import { Dcm, Language, Loinc, Npc, Sct, Ucum, Umls, type CodedConcept } from './codes';
import {
  codeItem,
  containerItem,
  formatDecimalString,
  imageItem,
  numItem,
  rectanglePolyline,
  scoordItem,
  segmentItem,
  textItem,
  uidrefItem,
  type ContentItem,
} from './content-items';
import { algorithmIdentificationItems } from './tid-4019-algorithm-identification';

/** Human tracking identifiers, one per analysis (from the analysis registry's records). */
export const TRACKING_IDENTIFIERS: Readonly<Record<AnalysisId, string>> = Object.fromEntries(
  ANALYSIS_IDS.map((id) => [id, ANALYSES[id].report.trackingIdentifier]),
) as Record<AnalysisId, string>;

/**
 * Tracking Identifier prefix of the cornerstone3D adapters' rectangle tool: OHIF 3.13 restores a group into its
 * measurements panel only when an adapter recognises its Tracking Identifier (`Cornerstone3DTools@^0.1.0:<Tool>`,
 * matched by prefix, so the analysis's own identifier follows it).
 */
export const CORNERSTONE_RECTANGLE_TRACKING = 'Cornerstone3DTools@^0.1.0:RectangleROI';

/** The Tracking Identifier (TEXT, 112039) written for an analysis's group. */
export function trackingIdentifierText(analysis: AnalysisId): string {
  return `${CORNERSTONE_RECTANGLE_TRACKING}:${TRACKING_IDENTIFIERS[analysis]}`;
}

export interface MeasurementReportContext {
  device: DeviceIdentity;
  /** Images for the Image Library, grouped by series in the order given. */
  libraryImages: ImageRef[];
  /** Tracking UID per analysis. */
  trackingUids: Record<string, string>;
  heatMaps: (ObjectRef & { analysis: string })[];
  researchStatement: string;
  /** The localiser's SEG, when one is sent with the report. */
  segmentation?: SegmentationReference;
}

/** The whole content tree: the root CONTAINER (to be merged into the dataset's top level). */
export function buildMeasurementReport(results: AnalysisResult[], ctx: MeasurementReportContext): ContentItem {
  if (results.length === 0) throw new Error('a measurement report needs at least one analysis result');
  const children: ContentItem[] = [
    codeItem('HAS CONCEPT MOD', Dcm.LanguageOfContentItemAndDescendants, Language.EnglishUs),
    ...deviceObserverItems(ctx.device),
    codeItem('HAS CONCEPT MOD', Dcm.ProcedureReported, Loinc.MriUnspecifiedBodyRegion),
    imageLibrary(ctx.libraryImages),
  ];
  const groups = results.flatMap((r) => {
    const g = measurementGroup(r, ctx);
    return g ? [g] : [];
  });
  // TID 1500: Imaging Measurements only when it has a group (a container without one is what some viewers choke on).
  if (groups.length > 0) children.push(containerItem('CONTAINS', Dcm.ImagingMeasurements, groups));
  children.push(
    containerItem('CONTAINS', Umls.QualitativeEvaluations, [
      ...results.flatMap((r) => (measurementGroup(r, ctx) ? [] : studyLevelStatement(r))),
      textItem('CONTAINS', Dcm.Comment, ctx.researchStatement),
    ]),
  );
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
    measurements: [numItem('CONTAINS', Npc.ProbabilityOfStageIVa, result.probability, Ucum.NoUnits)],
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

/** The region an assessed analysis's group draws: the first key image with a region (the largest-tumour slice). */
function regionOf(result: AnalysisResult): { image: ImageRef; region: NonNullable<AssessedResult['keyImages'][number]['region']> } | undefined {
  if (!result.assessable) return undefined;
  const k = result.keyImages.find((x) => x.region);
  return k?.region ? { image: k.image, region: k.region } : undefined;
}

/**
 * The label OHIF shows for a restored measurement (TEXT Comment, 121106): the analysis, its first NUM's value and
 * its answer, number first (OHIF's panel cuts the label after two lines).
 */
function groupLabel(result: AssessedResult, firstNum: ContentItem | undefined): string {
  const measured = firstNum?.MeasuredValueSequence as { NumericValue: string }[] | undefined;
  const value = measured?.[0] ? `${Number(measured[0].NumericValue).toFixed(2)} ` : '';
  return `${TRACKING_IDENTIFIERS[result.analysis]}: ${value}(${result.valueText})`;
}

/**
 * One assessed analysis with a region as a measurement group (TID 1411 when the SEG is known, else TID 1501);
 * undefined when the analysis has no region to draw (not assessable, or no key image region): such results are
 * study-level statements (see studyLevelStatement), never a coordinate-less group.
 */
export function measurementGroup(result: AnalysisResult, ctx: MeasurementReportContext): ContentItem | undefined {
  const trackingUid = ctx.trackingUids[result.analysis];
  if (!trackingUid) throw new Error(`no tracking UID for ${result.analysis}`);
  const roi = regionOf(result);
  if (!result.assessable || !roi) return undefined;
  const tracking = [
    textItem('HAS OBS CONTEXT', Dcm.TrackingIdentifier, trackingIdentifierText(result.analysis)),
    uidrefItem('HAS OBS CONTEXT', Dcm.TrackingUniqueIdentifier, trackingUid),
  ];
  const { measurements, evaluations } = SR_RESULT_ITEMS[result.analysis](result);
  // TID 300 row "INFERRED FROM" (TID 320): the answer is inferred from the tumour region on the key slice. The
  // cornerstone adapters read the SCOORD from the group's first NUM, so it hangs there (and only there).
  const scoord = scoordItem('INFERRED FROM', undefined, 'POLYLINE', rectanglePolyline(roi.region), roi.image);
  const [first, ...rest] = measurements;
  const nums = first ? [{ ...first, ContentSequence: [...((first.ContentSequence as ContentItem[] | undefined) ?? []), scoord] }, ...rest] : [];
  const gtv = ctx.segmentation?.segments.find((x) => x.region === 'gtv');
  const segmentRows =
    ctx.segmentation && gtv
      ? [
          segmentItem('CONTAINS', Dcm.ReferencedSegment, ctx.segmentation, gtv.segmentNumber),
          uidrefItem('CONTAINS', Dcm.SourceSeriesForSegmentation, ctx.segmentation.sourceSeriesInstanceUid),
        ]
      : [];
  const children: ContentItem[] = [
    ...tracking,
    codeItem('CONTAINS', Dcm.Finding, Sct.Tumor),
    ...segmentRows,
    codeItem('HAS CONCEPT MOD', Sct.FindingSite, Sct.Nasopharynx),
    ...algorithmIdentificationItems(result),
    ...nums,
    ...measurementItems(result),
    ...evaluations,
    ...ctx.heatMaps
      .filter((h) => h.analysis === result.analysis)
      .map((h) => imageItem('CONTAINS', Dcm.VisualExplanation, { sopClassUid: h.sopClassUid, sopInstanceUid: h.sopInstanceUid })),
    ...result.keyImages.filter((k) => k.image.sopInstanceUid !== roi.image.sopInstanceUid || k.image.frameNumber !== roi.image.frameNumber).map((k) => imageItem('CONTAINS', Dcm.SourceOfMeasurement, k.image)),
    textItem('CONTAINS', Dcm.Comment, groupLabel(result, nums[0])),
  ];
  return containerItem('CONTAINS', Dcm.MeasurementGroup, children);
}

/** The concept that carries each analysis's answer (its CODE row), for study-level statements. */
const ANSWER_CONCEPTS: Record<AnalysisId, CodedConcept> = {
  stage: Npc.PredictedAjccStageGroup,
  dmfs: Npc.DmfsRiskGroup,
  msom: Npc.MsomRiskGroup,
  progression: Npc.ProgressionRiskGroup,
  residual: Npc.RecommendedTreatment,
};

/**
 * An analysis without a region as Qualitative Evaluations rows (TID 1500 row 12: CODE/TEXT, no coordinates):
 * not assessable -> CODE <answer concept> = Undetermined + TEXT reason; assessed without a region -> its CODE
 * answer + TEXT summary with the numbers.
 */
export function studyLevelStatement(result: AnalysisResult): ContentItem[] {
  if (!result.assessable) {
    return [
      codeItem('CONTAINS', ANSWER_CONCEPTS[result.analysis], Sct.Undetermined),
      textItem('CONTAINS', Npc.ReasonNotAssessable, `${result.title}: not assessable: ${result.reason}`),
    ];
  }
  const { measurements, evaluations } = SR_RESULT_ITEMS[result.analysis](result);
  const numbers = [...measurements, ...measurementItems(result)].map((n) => {
    const meaning = (n.ConceptNameCodeSequence as { CodeMeaning: string }[])[0]!.CodeMeaning;
    return `${meaning} ${(n.MeasuredValueSequence as { NumericValue: string }[])[0]!.NumericValue}`;
  });
  return [
    ...evaluations.filter((e) => e.ValueType === 'CODE'),
    textItem('CONTAINS', Npc.AnalysisSummary, `${result.title}: ${result.valueText} (${numbers.join('; ')})`),
  ];
}
