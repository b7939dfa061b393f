/**
 * Ground truth of the synthetic cohort: the staging rules (AJCC 8th edition, simplified to what the
 * phantom can show) and the risk model behind every outcome label. Every rule here is documented in
 * docs/synthetic-cohort.md; change both together.
 */
import { CRICOID_CAUDAL_Z, SKULL_BASE_Z } from './phantom';
import { blobGreatestDimension, type Lesion } from './lesions';
import type { Rng } from './rng';

export type TCategory = 1 | 2 | 3 | 4;
export type NCategory = 0 | 1 | 2 | 3;
export type Stage = 'III' | 'IVa';
export type Regimen = 'CCRT' | 'IC+CCRT' | 'CCRT+AC';

/** What the tumour reaches; each flag is built into the tumour's geometry. */
export interface Invasion {
  /** Beyond the pharyngobasilar fascia into the parapharyngeal fat (T2). */
  parapharyngeal: boolean;
  /** Bony skull base (clivus / sphenoid floor) below the skull-base plane (T3). */
  skullBase: boolean;
  /** Through the skull base above SKULL_BASE_Z: middle cranial fossa / cavernous sinus (T4). */
  intracranial: boolean;
}

/** T category from extent: intracranial -> T4; skull-base bone -> T3; parapharyngeal -> T2; else T1. */
export function tCategoryFromInvasion(inv: Invasion): TCategory {
  if (inv.intracranial) return 4;
  if (inv.skullBase) return 3;
  if (inv.parapharyngeal) return 2;
  return 1;
}

/** Greatest dimension above which a node is N3 (AJCC 8th: > 6 cm). */
export const N3_NODE_SIZE_MM = 60;

/**
 * N category from the metastatic nodes (AJCC 8th, simplified): none -> N0; any node reaching below the
 * caudal border of the cricoid, or > 6 cm -> N3; cervical nodes on both sides -> N2; otherwise (one side,
 * and/or retropharyngeal nodes on either side) -> N1.
 */
export function nCategoryFromNodes(nodes: readonly Lesion[]): NCategory {
  const mets = nodes.filter((n) => n.kind === 'gtvln');
  if (mets.length === 0) return 0;
  for (const n of mets) {
    for (const b of n.blobs) {
      if (b.cz - b.rz < CRICOID_CAUDAL_Z || blobGreatestDimension(b) > N3_NODE_SIZE_MM) return 3;
    }
  }
  const cervicalSides = new Set(mets.filter((n) => n.level !== 'RP').map((n) => n.side));
  return cervicalSides.size >= 2 ? 2 : 1;
}

/** AJCC 8th stage for LA-NPC: T4 or N3 -> IVa; T3 (N0-2) or T1-2 N2 -> III; anything else is not LA-NPC. */
export function stageFrom(t: TCategory, n: NCategory): Stage | 'I-II' {
  if (t === 4 || n === 3) return 'IVa';
  if (t === 3 || n === 2) return 'III';
  return 'I-II';
}

/** True when any GTV point lies above the skull-base plane (the geometric meaning of "intracranial"). */
export function reachesIntracranial(tumour: Lesion): boolean {
  return tumour.blobs.some((b) => b.cz + b.rz > SKULL_BASE_Z);
}

// ---------------------------------------------------------------------------------------------------
// Risk model. Inputs are standardised (z-scores against the generator's own population, constants below)
// so that the weights read as "effect per population SD".

/** Population means/SDs of the raw features (measured on 20,000 generated patients, seed 'calibrate'). */
export const FEATURE_NORMS = {
  logTumourMl: { mean: 2.28, sd: 0.57 },
  logNodalMl: { mean: 1.85, sd: 0.97 },
  invasion: { mean: 0.64, sd: 0.35 },
  heterogeneity: { mean: 0.5, sd: 0.2887 },
  enhancement: { mean: 0.5, sd: 0.2887 },
  logEbv: { mean: 2.5, sd: 1.25 },
  pni: { mean: 49.8, sd: 5.0 },
  haemoglobin: { mean: 135.8, sd: 14.3 },
  age: { mean: 47, sd: 10 },
  remainingFraction: { mean: 0.39, sd: 0.174 },
};

/** Offsets that centre each latent score on the population median (so high risk = score >= 0). */
export const SCORE_OFFSETS = {
  dmfs: -0.014,
  msom: 0,
  residualCcrt: 0.04,
  residualIcCcrt: 0.015,
  progression: 0.037,
};

/** The image-visible features the scores depend on, standardised. */
export interface StandardFeatures {
  tumour: number;
  nodal: number;
  invasion: number;
  heterogeneity: number;
  enhancement: number;
  ebv: number;
  pni: number;
  haemoglobin: number;
  age: number;
}

export interface RawFeatures {
  tumourVolumeMl: number;
  nodalVolumeMl: number;
  t: TCategory;
  heterogeneity: number;
  enhancement: number;
  ebvDna: number;
  pni: number;
  haemoglobin: number;
  age: number;
}

export function standardise(f: RawFeatures): StandardFeatures {
  const N = FEATURE_NORMS;
  const z = (v: number, k: { mean: number; sd: number }) => (v - k.mean) / k.sd;
  return {
    tumour: z(Math.log(f.tumourVolumeMl), N.logTumourMl),
    nodal: z(Math.log1p(f.nodalVolumeMl), N.logNodalMl),
    invasion: z(f.t === 4 ? 1 : f.t === 3 ? 0.5 : 0, N.invasion),
    heterogeneity: z(f.heterogeneity, N.heterogeneity),
    enhancement: z(f.enhancement, N.enhancement),
    ebv: z(Math.log10(1 + f.ebvDna), N.logEbv),
    pni: z(f.pni, N.pni),
    haemoglobin: z(f.haemoglobin, N.haemoglobin),
    age: z(f.age, N.age),
  };
}

/** Weights of each latent score; `noise` is the SD of the patient-level Gaussian noise term. */
export const RISK_WEIGHTS = {
  dmfs: { nodal: 0.25, tumour: 0.55, heterogeneity: 0.55, invasion: 0.1, ebv: 0.2, n2plus: 0.1, intensified: -0.15, noise: 0.22 },
  msom: { heterogeneity: 0.55, enhancement: 0.45, nodal: 0.35, tumour: 0.15, pni: -0.12, haemoglobin: -0.1, noise: 0.22 },
  residualCcrt: { tumour: 0.55, invasion: 0.35, heterogeneity: 0.45, nodal: 0.25, ebv: 0.15, noise: 0.3 },
  residualIcCcrt: { tumour: 0.45, invasion: 0.3, heterogeneity: 0.55, nodal: 0.15, ebv: 0.15, noise: 0.3 },
  progression: { tumour: 0.4, nodal: 0.4, remaining: 0.7, ebv: 0.2, noise: 0.3 },
};

/** Residual-tumour thresholds on the (median-centred) residual scores: about 35 % / 25 % residual. */
export const RESIDUAL_THRESHOLDS = { ccrt: 0.39, icCcrt: 0.665 };

/** DMFS event model: exponential time with hazard BASE * exp(SLOPE * riskScore), uniform censoring. */
export const DMFS_HAZARD = { basePerMonth: 0.004, slope: 1.2, censorMinMonths: 30, censorMaxMonths: 84 };
/** MSOM event model: P(event) = sigmoid(SLOPE * (riskScore - SHIFT)). */
export const MSOM_EVENT = { slope: 3, shift: 0.9 };

export interface LatentScores {
  dmfs: number;
  msom: number;
  residualCcrt: number;
  residualIcCcrt: number;
}

export interface ScoreContext {
  n: NCategory;
  regimen: Regimen;
}

/** The four pre-treatment latent scores (noise drawn from `rng`). */
export function latentScores(z: StandardFeatures, ctx: ScoreContext, rng: Rng): LatentScores {
  const W = RISK_WEIGHTS;
  const dmfs =
    W.dmfs.nodal * z.nodal +
    W.dmfs.tumour * z.tumour +
    W.dmfs.heterogeneity * z.heterogeneity +
    W.dmfs.invasion * z.invasion +
    W.dmfs.ebv * z.ebv +
    W.dmfs.n2plus * (ctx.n >= 2 ? 1 : 0) +
    W.dmfs.intensified * (ctx.regimen === 'CCRT' ? 0 : 1) +
    rng.normal(0, W.dmfs.noise) -
    SCORE_OFFSETS.dmfs;
  const msom =
    W.msom.heterogeneity * z.heterogeneity +
    W.msom.enhancement * z.enhancement +
    W.msom.nodal * z.nodal +
    W.msom.tumour * z.tumour +
    W.msom.pni * z.pni +
    W.msom.haemoglobin * z.haemoglobin +
    rng.normal(0, W.msom.noise) -
    SCORE_OFFSETS.msom;
  const residualCcrt =
    W.residualCcrt.tumour * z.tumour +
    W.residualCcrt.invasion * z.invasion +
    W.residualCcrt.heterogeneity * z.heterogeneity +
    W.residualCcrt.nodal * z.nodal +
    W.residualCcrt.ebv * z.ebv +
    rng.normal(0, W.residualCcrt.noise) -
    SCORE_OFFSETS.residualCcrt;
  const residualIcCcrt =
    W.residualIcCcrt.tumour * z.tumour +
    W.residualIcCcrt.invasion * z.invasion +
    W.residualIcCcrt.heterogeneity * z.heterogeneity +
    W.residualIcCcrt.nodal * z.nodal +
    W.residualIcCcrt.ebv * z.ebv +
    rng.normal(0, W.residualIcCcrt.noise) -
    SCORE_OFFSETS.residualIcCcrt;
  return { dmfs, msom, residualCcrt, residualIcCcrt };
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Fraction of the pre-treatment tumour volume left at the post-treatment study: worse (higher) when the
 * residual score of the regimen actually given is high.
 */
export function remainingFraction(residualScore: number, rng: Rng): number {
  return 0.08 + 0.62 * sigmoid(1.6 * residualScore + rng.normal(0, 0.5));
}

export function progressionScore(z: StandardFeatures, remaining: number, rng: Rng): number {
  const W = RISK_WEIGHTS.progression;
  const zr = (remaining - FEATURE_NORMS.remainingFraction.mean) / FEATURE_NORMS.remainingFraction.sd;
  return W.tumour * z.tumour + W.nodal * z.nodal + W.remaining * zr + W.ebv * z.ebv + rng.normal(0, W.noise) - SCORE_OFFSETS.progression;
}

export interface DmfsOutcome {
  timeMonths: number;
  event: 0 | 1;
}

export function drawDmfs(riskScore: number, rng: Rng): DmfsOutcome {
  const H = DMFS_HAZARD;
  const eventTime = rng.exponential(H.basePerMonth * Math.exp(H.slope * riskScore));
  const censor = rng.uniform(H.censorMinMonths, H.censorMaxMonths);
  const event = eventTime < censor;
  return { timeMonths: Math.round(Math.max(1, event ? eventTime : censor) * 10) / 10, event: event ? 1 : 0 };
}

export function drawMsomEvent(riskScore: number, rng: Rng): 0 | 1 {
  return rng.chance(sigmoid(MSOM_EVENT.slope * (riskScore - MSOM_EVENT.shift))) ? 1 : 0;
}
