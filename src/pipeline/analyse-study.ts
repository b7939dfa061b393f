/**
 * One study's analyses: select series, build volumes, localise, run every enabled analysis. The same
 * function serves the analysis worker, the validation report and the golden tests.
 */
import type { AnalysisId, SelectionRule } from '../config/schema';
import type { ClinicalCovariates } from '../analyses/clinical-covariates';
import type { ModelSource } from '../analyses/context';
import type { PriorStudyProvider } from '../analyses/ports';
import { runAnalyses } from '../analyses/run-analyses';
import { createPreparer } from '../analyses/prepare-adapter';
import { rolesReadBy } from '../analyses/roles-read';
import type { AnalysisResult } from '../analyses/types';
import { SIGNAL_REFERENCE_PERCENTILE, type LocalisationResult } from '../analyses/localisation';
import type { WorkerPool } from '../prepare';
import type { Volume } from '../prepare/volume-types';
import type { InstanceHeader, StoredInstance } from '../store/instance-types';
import { buildStudyVolumes } from './study-volumes';

export interface StudyAnalysisInput {
  studyInstanceUid: string;
  instances: StoredInstance[];
  analyses: readonly AnalysisId[];
  clinical?: ClinicalCovariates;
  priorStudies?: PriorStudyProvider;
  /** Class-activation maps for the heat maps (default true; validation and golden runs switch them off). */
  computeCams?: boolean;
}

export interface StudyAnalysisDeps {
  models: ModelSource;
  rules: SelectionRule[];
  pool?: WorkerPool;
}

export interface StudyAnalysis {
  /** A representative header of the study's source instances (patient, study attributes). */
  studyHeader: InstanceHeader;
  volumes: Record<string, Volume>;
  selectedSeries: { role: string; seriesInstanceUid: string; seriesDescription?: string; rule: string }[];
  missingRoles: Record<string, string>;
  localisation?: LocalisationResult;
  results: AnalysisResult[];
  timings: { volumesMs: number; analysesMs: number };
}

export async function analyseStudy(input: StudyAnalysisInput, deps: StudyAnalysisDeps): Promise<StudyAnalysis> {
  if (!input.instances.length) throw new Error(`study ${input.studyInstanceUid} has no stored instances`);
  const t0 = Date.now();
  // Only the series the enabled analyses' models read are decoded (the others stay listed as selected).
  const sv = await buildStudyVolumes(input.instances, deps.rules, { ...(deps.pool ? { pool: deps.pool } : {}), roles: rolesReadBy(deps.models, input.analyses) });
  const t1 = Date.now();
  const studyHeader = representativeHeader(input.instances, sv.volumes);
  const outcome = await runAnalyses(
    {
      studyInstanceUid: input.studyInstanceUid,
      ...(typeof studyHeader.PatientID === 'string' && studyHeader.PatientID ? { patientId: studyHeader.PatientID } : {}),
      ...(typeof studyHeader.StudyDate === 'string' && studyHeader.StudyDate ? { studyDate: studyHeader.StudyDate } : {}),
      volumes: sv.volumes,
      ...(input.clinical ? { clinical: input.clinical } : {}),
      models: deps.models,
      // The localiser measures' signal reference is computed with the localised series' intensity ranges.
      preparer: createPreparer({ ...(deps.pool ? { pool: deps.pool } : {}), expectPercentiles: [SIGNAL_REFERENCE_PERCENTILE] }),
      ...(input.priorStudies ? { priorStudies: input.priorStudies } : {}),
      ...(input.computeCams !== undefined ? { computeCams: input.computeCams } : {}),
    },
    input.analyses,
  );
  const results = outcome.results.map((r) => explainMissingRole(withSelectionRules(r, sv.selected), sv.missing));
  return {
    studyHeader,
    volumes: sv.volumes,
    selectedSeries: [...sv.selected].map(([role, s]) => ({ role, seriesInstanceUid: s.seriesInstanceUid, ...(s.seriesDescription ? { seriesDescription: s.seriesDescription } : {}), rule: s.rule })),
    missingRoles: Object.fromEntries(sv.missing),
    ...(outcome.localisation ? { localisation: outcome.localisation } : {}),
    results,
    timings: { volumesMs: t1 - t0, analysesMs: Date.now() - t1 },
  };
}

/** The header of a slice of a selected series (else the first instance): patient and study attributes. */
function representativeHeader(instances: StoredInstance[], volumes: Record<string, Volume>): InstanceHeader {
  const firstVolume = Object.values(volumes)[0];
  const ref = firstVolume?.slices[0]?.image.sopInstanceUid;
  return (ref && instances.find((i) => i.sopInstanceUid === ref)?.header) || instances[0]!.header;
}

/** Records which selection rule picked each input series. */
function withSelectionRules(r: AnalysisResult, selected: Map<string, { seriesInstanceUid: string; rule: string }>): AnalysisResult {
  if (!r.assessable) return r;
  return { ...r, inputs: { ...r.inputs, series: r.inputs.series.map((s) => ({ ...s, rule: s.rule ?? [...selected.values()].find((x) => x.seriesInstanceUid === s.seriesInstanceUid)?.rule })) } };
}

/** A "no ce-t1 series" reason gains the selector's explanation (what was there and why it was not used). */
function explainMissingRole(r: AnalysisResult, missing: Map<string, string>): AnalysisResult {
  if (r.assessable) return r;
  for (const [role, why] of missing) {
    if (r.reason.includes(`no ${role} series`) && !r.reason.includes(why)) return { ...r, reason: `${r.reason} (${why})` };
  }
  return r;
}
