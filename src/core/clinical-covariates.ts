/**
 * Clinical covariates of a patient (they do not come in the MR images): the API's schema with units and
 * ranges. Stored by store/clinical-repository.ts, accepted by the admin API, encoded for a model by
 * analyses/clinical-covariates.ts. Lives in core/ so the store need not import from analyses/.
 */
import { z } from 'zod';

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
