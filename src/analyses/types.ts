/**
 * What an analysis produces for one patient (one study), shared by analyses/, encode/, pipeline/ and the
 * admin API. Every result says what it is: model identity, provider, covariates used, research-use status.
 */
import type { AnalysisId } from '../core/analysis-ids';
import type { ImageRef } from '../core/image-ref';
import type { PixelBox } from '../core/pixel-box';

export type { AnalysisId, ImageRef, PixelBox };

export const RESEARCH_USE_STATEMENT =
  'For research use only. Not for clinical decision-making until validated at this site.';

export interface ModelIdentity {
  id: string;
  name: string;
  version: string;
  sha256: string;
  /** Execution provider actually used: webgpu | cuda | cpu. */
  provider: string;
}

export interface Detection {
  label: 'GTV' | 'GTVln';
  image: ImageRef;
  box: PixelBox;
  score: number;
  /** Area in pixels of the detected region (or box area when only a box is known). */
  areaPx: number;
}

/** A class-activation map for one source slice: values 0..1, row-major, `rows` x `columns`, in source pixel space. */
export interface CamMap {
  image: ImageRef;
  rows: number;
  columns: number;
  data: Float32Array;
  /** How the map was computed (e.g. "CAM output of the graph (GAP + linear: equals Grad-CAM)"). */
  method: string;
}

export interface SliceScore {
  image: ImageRef;
  probability: number;
}

export type AnalysisResult = AssessedResult | NotAssessableResult;

/** The other study an analysis combined with this one, and where it came from. */
export interface PriorStudyRef {
  studyInstanceUid: string;
  /** DICOM DA (YYYYMMDD). */
  studyDate?: string;
  /** 'store': it was in the node's store; 'pacs': fetched from a PACS for this analysis. */
  source: 'store' | 'pacs';
}

interface ResultCommon {
  analysis: AnalysisId;
  /** Human title, e.g. "AJCC stage III vs IVa". */
  title: string;
  studyInstanceUid: string;
  researchUseOnly: true;
  statement: string;
}

export interface NotAssessableResult extends ResultCommon {
  assessable: false;
  /** Why, in words a radiologist understands (e.g. "no contrast-enhanced T1 series"). */
  reason: string;
}

export interface AssessedResult extends ResultCommon {
  assessable: true;
  /** The answer as a short code: "III" | "IVa" | "high" | "low" | "CCRT" | "IC+CCRT" | "IBT". */
  value: string;
  /** Text for readers, e.g. "AJCC stage IVa", "High risk". */
  valueText: string;
  /** Probability of the positive class / the predicted class, 0..1 (the score shown). */
  probability: number;
  /** Risk group when the analysis has one. */
  group?: 'high' | 'low';
  cutoff?: number;
  /** Models that contributed, with the provider each ran on. */
  models: ModelIdentity[];
  /** True when clinical covariates were combined with the image score. */
  clinicalCovariatesUsed: boolean;
  /** Names of the clinical variables used (empty when image-only). */
  clinicalVariables: string[];
  inputs: {
    series: { role: string; seriesInstanceUid: string; seriesDescription?: string; rule?: string }[];
    images: ImageRef[];
  };
  /** Key images (e.g. the largest-tumour slice) with their region and CAM, for SR and heat maps. */
  keyImages: { image: ImageRef; region?: PixelBox; cam?: CamMap }[];
  sliceScores: SliceScore[];
  /** Sub-results, e.g. residual: { ccrt: 0.21, icCcrt: 0.35 }. */
  components?: Record<string, number>;
  /** Plain-language notes for the report, e.g. "image only: N stage, EBV-DNA not known". */
  notes?: string[];
  /** The patient's other study the result used (progression: the pre- or post-treatment study). */
  priorStudy?: PriorStudyRef;
  timings: Record<string, number>;
}
