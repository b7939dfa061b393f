/**
 * Clinical covariates of a patient (they do not come in the MR images): the API's schema with units and
 * ranges, and their encoding into the vector a model's manifest declares (standardise, one-hot, ordinal,
 * threshold). A variable a model needs but the patient lacks makes the encoding fail with its name.
 */
import { z } from 'zod';
import type { ClinicalEncoding, ClinicalVariable } from '../infer/manifest';

export const ClinicalCovariatesSchema = z.strictObject({
  /** AJCC N stage. */
  nStage: z.enum(['N0', 'N1', 'N2', 'N3']).optional(),
  /** Plasma EBV-DNA before treatment, copies/mL. */
  ebvDnaCopiesPerMl: z.number().min(0).max(1e10).optional(),
  /** Treatment regimen. */
  treatment: z.enum(['CCRT', 'IC+CCRT', 'CCRT+AC', 'RT']).optional(),
  /** Age in years. */
  age: z.number().min(0).max(120).optional(),
  sex: z.enum(['M', 'F', 'O']).optional(),
  /** AJCC clinical stage. */
  clinicalStage: z.enum(['I', 'II', 'III', 'IVa', 'IVb']).optional(),
  /** Prognostic nutritional index (albumin g/L + 5 x lymphocytes 10^9/L). */
  pni: z.number().min(0).max(150).optional(),
  /** Haemoglobin, g/L. */
  haemoglobinGPerL: z.number().min(20).max(250).optional(),
  /** Total radiation dose, Gy. */
  doseGy: z.number().min(0).max(100).optional(),
  /** Cumulative cisplatin dose, mg/m2. */
  cisplatinMgM2: z.number().min(0).max(1000).optional(),
  /** Chemotherapy cycles. */
  cycles: z.number().int().min(0).max(20).optional(),
});
export type ClinicalCovariates = z.infer<typeof ClinicalCovariatesSchema>;

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
