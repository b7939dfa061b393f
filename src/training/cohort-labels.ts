/**
 * Ground truth of a synthetic cohort (labels.json of src/synth) as training labels and as the node's
 * clinical covariates (the API's names and units), so the export encodes them exactly as serving does.
 */
import type { ClinicalCovariates } from '../analyses/clinical-covariates';
import type { CohortLabelEntry } from '../synth/cohort';
import type { TrainingLabel } from './recipe';

/** 1 = positive class / high risk. */
export function trainingLabel(entry: CohortLabelEntry, label: TrainingLabel): 0 | 1 {
  switch (label) {
    case 'stageIVa':
      return entry.stage === 'IVa' ? 1 : 0;
    case 'dmfsHigh':
      return entry.dmfs.highRisk ? 1 : 0;
    case 'msomHigh':
      return entry.msom.highRisk ? 1 : 0;
    case 'residualCcrt':
      return entry.residual.ccrt;
    case 'residualIcCcrt':
      return entry.residual.icCcrt;
    case 'progressionHigh':
      return entry.progression.highRisk ? 1 : 0;
  }
}

/** The cohort's clinical record in the node's covariate schema (src/analyses/clinical-covariates.ts). */
export function cohortCovariates(entry: CohortLabelEntry): ClinicalCovariates {
  const c = entry.clinical;
  return {
    nStage: `N${c.nStage}` as ClinicalCovariates['nStage'],
    ebvDnaCopiesPerMl: c.ebvDna,
    treatment: c.treatment,
    age: c.age,
    sex: c.sex,
    clinicalStage: c.clinicalStage,
    pni: c.pni,
    haemoglobinGPerL: c.haemoglobin,
    doseGy: c.dose,
    cisplatinMgM2: c.cisplatin,
    cycles: c.cycles,
  };
}
