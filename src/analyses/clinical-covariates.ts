/**
 * Clinical covariates of a patient (they do not come in the MR images): the API's schema with units and
 * ranges, and their encoding into the vector a model's manifest declares (standardise, one-hot, ordinal,
 * threshold). A variable a model needs but the patient lacks makes the encoding fail with its name.
 */
import { ClinicalCovariatesSchema, type ClinicalCovariates } from '../core/clinical-covariates';
import type { ClinicalEncoding, ClinicalVariable } from '../infer/manifest';

export { ClinicalCovariatesSchema, type ClinicalCovariates };

export type EncodeResult =
  | { ok: true; vector: number[]; variables: ClinicalVariable[] }
  | { ok: false; missing: ClinicalVariable[]; unencodable: string[] };

/** Encodes the covariates as the manifest says; reports every missing or unencodable variable. */
export function encodeClinical(covariates: ClinicalCovariates | undefined, encoding: readonly ClinicalEncoding[]): EncodeResult {
  const vector: number[] = [];
  const missing: ClinicalVariable[] = [];
  const unencodable: string[] = [];
  for (const e of encoding) {
    const v = covariates?.[e.variable];
    if (v === undefined) {
      missing.push(e.variable);
      continue;
    }
    switch (e.kind) {
      case 'standardise':
        if (typeof v !== 'number') unencodable.push(`${e.variable} is not a number`);
        else vector.push((v - e.mean) / e.std);
        break;
      case 'threshold':
        if (typeof v !== 'number') unencodable.push(`${e.variable} is not a number`);
        else vector.push(v >= e.threshold ? 1 : 0);
        break;
      case 'one-hot': {
        const k = e.categories.indexOf(String(v));
        if (k < 0) unencodable.push(`${e.variable} ${String(v)} is not among the model's categories (${e.categories.join(', ')})`);
        else vector.push(...e.categories.map((_, i) => (i === k ? 1 : 0)));
        break;
      }
      case 'ordinal': {
        const k = e.levels.indexOf(String(v));
        if (k < 0) unencodable.push(`${e.variable} ${String(v)} is not among the model's levels (${e.levels.join(', ')})`);
        else vector.push(k);
        break;
      }
    }
  }
  if (missing.length || unencodable.length) return { ok: false, missing, unencodable };
  return { ok: true, vector, variables: encoding.map((e) => e.variable) };
}

/** "N stage, EBV-DNA" for the reasons a report shows. */
export const CLINICAL_VARIABLE_TEXT: Record<ClinicalVariable, string> = {
  nStage: 'N stage',
  ebvDnaCopiesPerMl: 'EBV-DNA',
  treatment: 'treatment regimen',
  age: 'age',
  sex: 'sex',
  clinicalStage: 'clinical stage',
  pni: 'PNI',
  haemoglobinGPerL: 'haemoglobin',
  doseGy: 'radiation dose',
  cisplatinMgM2: 'cumulative cisplatin dose',
  cycles: 'chemotherapy cycles',
};

export function describeEncodeFailure(r: { missing: ClinicalVariable[]; unencodable: string[] }): string {
  const parts: string[] = [];
  if (r.missing.length) parts.push(`not known: ${r.missing.map((v) => CLINICAL_VARIABLE_TEXT[v]).join(', ')}`);
  parts.push(...r.unencodable);
  return parts.join('; ');
}
