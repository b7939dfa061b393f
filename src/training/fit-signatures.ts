/**
 * Fits the image signatures of the recipe's models (manifest `signature`): every patient of a training cohort
 * goes through the node's serving path (src/pipeline via analyseCohortPatient) with the models of a models
 * folder; the networks' patient-level vote (result component `networksVote`) and the localiser's measurements
 * (localiser-measures.ts) of the training split fit a logistic regression on the model's label. The cut-off
 * follows the recipe (median of the training split for DMFS, paper 003; ROC-optimal on the validation split
 * otherwise). For DMFS the clinical logistic combination is refitted on the signature. Writes
 * <models>/<id>/signature.json; tools/write-model-manifests.ts puts it into the manifest.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ClinicalEncoding, LocaliserMeasure, ModelTask, SignatureSpec } from '../infer/manifest';
import type { ModelSource } from '../analyses/context';
import type { AnalysisId, AnalysisResult } from '../analyses/types';
import { encodeClinical } from '../analyses/clinical-covariates';
import { logit } from '../analyses/aggregation';
import { measureLocalisation, type LocaliserMeasures } from '../analyses/localiser-measures';
import type { CohortLabelEntry } from '../synth/cohort';
import { aucWithCi } from '../validate/metrics';
import { analyseCohortPatient, type CohortStudyOptions } from './analyse-cohort-study';
import { cohortCovariates, trainingLabel } from './cohort-labels';
import { fitLogistic, isValidationPatient, median, predictLogistic, youdenCutoff } from './logistic-fit';
import type { Recipe, RecipeModel } from './recipe';

/** Where each task's vote is found in its analysis result. */
const VOTE_OF: Partial<Record<ModelTask, { analysis: AnalysisId; component: string }>> = {
  stage: { analysis: 'stage', component: 'networksVote' },
  dmfs: { analysis: 'dmfs', component: 'networksVote' },
  msom: { analysis: 'msom', component: 'networksVote' },
  'residual-ccrt': { analysis: 'residual', component: 'ccrt.networksVote' },
  'residual-ic-ccrt': { analysis: 'residual', component: 'icCcrt.networksVote' },
};

export interface PatientRow {
  patientId: string;
  validation: boolean;
  measures: LocaliserMeasures;
  /** Vote per analysis component key, image only and with the clinical record. */
  votes: Record<string, number>;
  votesWithClinical: Record<string, number>;
  entry: CohortLabelEntry;
}

export interface SignatureFile {
  /** The cohort the signature was fitted on (its cohort.json: seed, patients). */
  cohort: { seed?: unknown; patients: number };
  signature: SignatureSpec;
  cutoff: { value: number; method: string };
  metrics: Record<string, number>;
  clinicalLogistic?: { intercept: number; imageCoefficient: number; imageTransform: 'logit'; coefficients: number[]; cutoff: { value: number; method: string } };
}

const component = (results: AnalysisResult[], analysis: AnalysisId, key: string): number | undefined => {
  const r = results.find((x) => x.analysis === analysis);
  return r?.assessable ? r.components?.[key] : undefined;
};

/** Runs the serving path over the cohort: measurements and votes per patient (image only, and with clinical data). */
export async function collectPatientRows(
  cohortDir: string,
  models: ModelSource,
  opts: CohortStudyOptions & { onProgress?: (done: number, total: number) => void; limit?: number },
): Promise<PatientRow[]> {
  const all = JSON.parse(fs.readFileSync(path.join(cohortDir, 'labels.json'), 'utf8')) as CohortLabelEntry[];
  const labels = opts.limit ? all.slice(0, opts.limit) : all;
  const rows: PatientRow[] = [];
  const keys = Object.values(VOTE_OF);
  for (const [k, entry] of labels.entries()) {
    const dir = path.join(cohortDir, entry.PatientID);
    const plain = await analyseCohortPatient(dir, models, ['stage', 'dmfs', 'msom', 'residual'], opts);
    const clin = await analyseCohortPatient(dir, models, ['msom'], { ...opts, clinical: cohortCovariates(entry) });
    if (!plain.localisation) continue;
    const votes: Record<string, number> = {};
    const votesWithClinical: Record<string, number> = {};
    for (const v of keys) {
      const a = component(plain.results, v!.analysis, v!.component);
      if (a !== undefined) votes[`${v!.analysis}:${v!.component}`] = a;
      const b = component(clin.results, v!.analysis, v!.component);
      if (b !== undefined) votesWithClinical[`${v!.analysis}:${v!.component}`] = b;
    }
    rows.push({ patientId: entry.PatientID, validation: isValidationPatient(entry.PatientID), measures: measureLocalisation(plain.localisation), votes, votesWithClinical, entry });
    opts.onProgress?.(k + 1, labels.length);
  }
  return rows;
}

function features(row: PatientRow, vote: number, measures: readonly { measure: LocaliserMeasure; transform: 'identity' | 'log1p' }[]): number[] {
  return [logit(vote), ...measures.map((m) => (m.transform === 'log1p' ? Math.log1p(Math.max(0, row.measures[m.measure])) : row.measures[m.measure]))];
}

/** Fits one model's signature (the fusion variant uses the votes with the clinical record). */
export function fitSignature(model: RecipeModel, rows: PatientRow[], opts: { fusion: boolean; clinicalEncoding?: ClinicalEncoding[]; cohort?: SignatureFile['cohort'] }): SignatureFile {
  const spec = model.signature;
  const where = VOTE_OF[model.task];
  if (!spec || !where || !model.label) throw new Error(`${model.id}: no signature in the recipe for task ${model.task}`);
  const key = `${where.analysis}:${where.component}`;
  const usable = rows.filter((r) => (opts.fusion ? r.votesWithClinical : r.votes)[key] !== undefined);
  const vote = (r: PatientRow) => (opts.fusion ? r.votesWithClinical : r.votes)[key]!;
  const label = (r: PatientRow) => trainingLabel(r.entry, model.label!);
  const train = usable.filter((r) => !r.validation);
  const valid = usable.filter((r) => r.validation);
  const fit = fitLogistic(train.map((r) => features(r, vote(r), spec.measures)), train.map(label));
  const signature: SignatureSpec = {
    intercept: fit.intercept,
    voteCoefficient: fit.coefficients[0]!,
    measures: spec.measures.map((m, i) => ({ ...m, coefficient: fit.coefficients[i + 1]! })),
  };
  const score = (r: PatientRow) => predictLogistic(fit, features(r, vote(r), spec.measures));
  const trainScores = train.map(score);
  const validScores = valid.map(score);
  const method = (model as { cutoff?: string }).cutoff ?? 'youden';
  const cutoff =
    method === 'median-train'
      ? { value: median(trainScores), method: 'median image-signature risk of the training split (paper 003)' }
      : { value: youdenCutoff(validScores, valid.map(label)), method: 'ROC-optimal (Youden) cut-off of the image signature on the validation split' };
  const metrics: Record<string, number> = {
    signatureTrainAuc: aucWithCi(trainScores, train.map(label)).auc,
    signatureValidationAuc: aucWithCi(validScores, valid.map(label)).auc,
    networksValidationAuc: aucWithCi(valid.map(vote), valid.map(label)).auc,
    signaturePatients: usable.length,
  };
  const out: SignatureFile = { cohort: opts.cohort ?? { patients: new Set(rows.map((r) => r.patientId)).size }, signature, cutoff, metrics };
  if (model.clinical?.use === 'logistic' && opts.clinicalEncoding) {
    // paper 003: the combined model takes the (now measured) image signature with N stage, EBV-DNA, treatment
    const enc = (r: PatientRow) => {
      const e = encodeClinical(cohortCovariates(r.entry), opts.clinicalEncoding!);
      if (!e.ok) throw new Error(`${r.patientId}: clinical record cannot be encoded for ${model.id}`);
      return e.vector;
    };
    const cf = fitLogistic(train.map((r) => [logit(score(r)), ...enc(r)]), train.map(label));
    const combined = (r: PatientRow) => predictLogistic(cf, [logit(score(r)), ...enc(r)]);
    out.clinicalLogistic = {
      intercept: cf.intercept,
      imageCoefficient: cf.coefficients[0]!,
      imageTransform: 'logit',
      coefficients: cf.coefficients.slice(1),
      cutoff: { value: median(train.map(combined)), method: 'median combined risk of the training split (paper 003)' },
    };
    metrics.combinedValidationAuc = aucWithCi(valid.map(combined), valid.map(label)).auc;
  }
  return out;
}

/** Fits every recipe model with a signature that has a trained directory under modelsDir; returns what was written. */
export function writeSignatures(recipe: Recipe, rows: PatientRow[], modelsDir: string, cohort?: SignatureFile['cohort']): string[] {
  const written: string[] = [];
  for (const m of recipe.models) {
    if (!m.signature) continue;
    const variants = [{ id: m.id, fusion: false }, ...(m.clinical?.use === 'input' ? [{ id: `${m.id}-fusion`, fusion: true }] : [])];
    for (const v of variants) {
      const dir = path.join(modelsDir, v.id);
      if (!fs.existsSync(dir)) continue;
      const file = fitSignature(m, rows, { fusion: v.fusion, ...(m.clinical ? { clinicalEncoding: m.clinical.encoding } : {}), ...(cohort ? { cohort } : {}) });
      fs.writeFileSync(path.join(dir, 'signature.json'), JSON.stringify(file, null, 2) + '\n');
      written.push(`${v.id}: ${JSON.stringify(file.metrics)}`);
    }
  }
  return written;
}
