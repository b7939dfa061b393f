/**
 * One synthetic patient: demographics, the lesions built to match drawn T and N categories, clinical
 * covariates, and every label derived from them through ground-truth.ts. No pixels here: labels for
 * thousands of patients can be drawn in a second (used by the distribution tests and the calibration).
 */
import { Rng } from './rng';
import { drawAnatomyVariation, type AnatomyVariation, CRICOID_CAUDAL_Z } from './phantom';
import { makeBlob, scaleBlob, lesionVolumeMl, blobGreatestDimension, type Lesion, type NodeLevel } from './lesions';
import {
  drawDmfs,
  drawMsomEvent,
  latentScores,
  nCategoryFromNodes,
  progressionScore,
  remainingFraction,
  RESIDUAL_THRESHOLDS,
  stageFrom,
  standardise,
  tCategoryFromInvasion,
  type Invasion,
  type NCategory,
  type Regimen,
  type Stage,
  type TCategory,
} from './ground-truth';

export interface ClinicalCovariates {
  nStage: NCategory;
  /** Plasma EBV-DNA, copies/mL (0 = undetectable). */
  ebvDna: number;
  treatment: Regimen;
  age: number;
  sex: 'M' | 'F';
  clinicalStage: Stage;
  /** Prognostic nutritional index. */
  pni: number;
  /** Haemoglobin, g/L. */
  haemoglobin: number;
  /** Radiation dose, Gy. */
  dose: number;
  /** Cumulative cisplatin dose, mg/m2. */
  cisplatin: number;
  /** Chemotherapy cycles (induction + concurrent + adjuvant). */
  cycles: number;
}

export interface ImageFeatures {
  tumourVolumeMl: number;
  nodalVolumeMl: number;
  metastaticNodeCount: number;
  largestNodeMm: number;
  bilateralNodes: boolean;
  retropharyngealNodes: boolean;
  nodesBelowCricoid: boolean;
  invasion: Invasion;
  /** 0..1: necrotic core size and texture amplitude of the lesions (visible on CE-T1 and T2). */
  heterogeneity: number;
  /** 0..1: how strongly the tumour enhances on CE-T1. */
  enhancement: number;
  primarySide: 'left' | 'right';
}

export interface PatientLabels {
  PatientID: string;
  T: TCategory;
  N: NCategory;
  stage: Stage;
  dmfs: { timeMonths: number; event: 0 | 1; riskScore: number; highRisk: boolean };
  msom: { event: 0 | 1; riskScore: number; highRisk: boolean };
  residual: { ccrt: 0 | 1; icCcrt: 0 | 1; ccrtScore: number; icCcrtScore: number };
  progression: { highRisk: boolean; riskScore: number; remainingFraction: number };
  clinical: ClinicalCovariates;
  imageFeatures: ImageFeatures;
}

export interface PatientModel {
  index: number;
  seed: string;
  patientId: string;
  name: { alphabetic: string; ideographic?: string };
  birthDate: string;
  anatomy: AnatomyVariation;
  /** Pre-treatment lesions: nodes and benign nodes first, the primary tumour last. */
  lesions: Lesion[];
  /** Post-treatment lesions (shrunk per response). */
  followupLesions: Lesion[];
  /** Days from the pre-treatment study to the post-treatment study. */
  followupDays: number;
  labels: PatientLabels;
  /** Tumour appearance parameters used by sequences.ts. */
  appearance: { heterogeneity: number; enhancement: number; textureSeed: number };
}

const SURNAMES: [string, string][] = [
  ['Wang', '王'], ['Li', '李'], ['Zhang', '张'], ['Liu', '刘'], ['Chen', '陈'], ['Yang', '杨'],
  ['Huang', '黄'], ['Zhao', '赵'], ['Wu', '吴'], ['Zhou', '周'], ['Lin', '林'], ['Liang', '梁'],
];
const GIVEN: [string, string][] = [
  ['Wei', '伟'], ['Fang', '芳'], ['Min', '敏'], ['Jing', '静'], ['Qiang', '强'], ['Lei', '磊'],
  ['Jun', '军'], ['Yang', '洋'], ['Yong', '勇'], ['Yan', '艳'], ['Jie', '杰'], ['Tao', '涛'],
];

const T_WEIGHTS = [0.07, 0.17, 0.4, 0.36];
const N_WEIGHTS = [0.12, 0.36, 0.38, 0.14];

export interface DrawPatientOptions {
  /** Cohort seed (any string); patients are independent streams of it. */
  seed: string | number;
  index: number;
  /** Prefix of PatientID; defaults to SYN. */
  idPrefix?: string;
}

/** Draw one patient (labels and geometry, no pixels). Deterministic in (seed, index). */
export function drawPatient(opts: DrawPatientOptions): PatientModel {
  const seed = `${String(opts.seed)}#${opts.index}`;
  const rng = new Rng(seed);
  const rStage = rng.fork('stage');
  let t: TCategory;
  let n: NCategory;
  do {
    t = (rStage.weighted(T_WEIGHTS) + 1) as TCategory;
    n = rStage.weighted(N_WEIGHTS) as NCategory;
  } while (stageFrom(t, n) === 'I-II');

  const rl = rng.fork('lesions');
  const side = rl.chance(0.5) ? 1 : -1; // +1 = patient left (DICOM +x)
  const heterogeneity = rl.next();
  const enhancement = rl.next();
  const { tumour, invasion } = buildTumour(t, side, heterogeneity, rl.fork('tumour'));
  const nodes = buildNodes(n, side, heterogeneity, rl.fork('nodes'));
  const benign = buildBenignNodes(rl.fork('benign'));

  // Consistency: the categories re-derived from the geometry must equal the drawn ones.
  const tCheck = tCategoryFromInvasion(invasion);
  const nCheck = nCategoryFromNodes(nodes);
  if (tCheck !== t || nCheck !== n) throw new Error(`synthetic lesion geometry gave T${tCheck}N${nCheck}, drew T${t}N${n}`);
  const stage = stageFrom(t, n) as Stage;

  const tumourVolumeMl = round(lesionVolumeMl(tumour), 2);
  const nodalVolumeMl = round(nodes.reduce((s, l) => s + lesionVolumeMl(l), 0), 2);

  // Clinical covariates.
  const rc = rng.fork('clinical');
  const sex: 'M' | 'F' = rc.chance(0.72) ? 'M' : 'F';
  const age = Math.round(clamp(rc.normal(47, 10), 18, 78));
  const zBurden = 0.5 * (Math.log(tumourVolumeMl) - 2.2) / 0.75 + 0.5 * (Math.log1p(nodalVolumeMl) - 1.6);
  const logEbv = 2.6 + 0.5 * zBurden + rc.normal(0, 0.9);
  const ebvDna = logEbv < 1.7 ? 0 : Math.round(Math.pow(10, logEbv));
  const regimen = drawRegimen(stage, rc);
  const pni = round(clamp(rc.normal(50, 5) - 1.2 * zBurden, 30, 65), 1);
  const haemoglobin = Math.round(clamp(rc.normal(sex === 'M' ? 141 : 125, 12) - 3 * zBurden, 80, 180));
  const dose = rc.pick([66, 68, 69.96, 70, 70, 72]);
  const cycles = regimen === 'CCRT' ? rc.int(2, 3) : regimen === 'IC+CCRT' ? rc.int(4, 5) : rc.int(5, 6);
  const cisplatin = Math.round((cycles * rc.uniform(60, 100)) / 10) * 10;
  const clinical: ClinicalCovariates = {
    nStage: n, ebvDna, treatment: regimen, age, sex, clinicalStage: stage, pni, haemoglobin, dose, cisplatin, cycles,
  };

  // Risk model.
  const rr = rng.fork('risk');
  const z = standardise({ tumourVolumeMl, nodalVolumeMl, t, heterogeneity, enhancement, ebvDna, pni, haemoglobin, age });
  const s = latentScores(z, { n, regimen }, rr);
  const dmfs = drawDmfs(s.dmfs, rr);
  const msomEvent = drawMsomEvent(s.msom, rr);
  const residualCcrt: 0 | 1 = s.residualCcrt > RESIDUAL_THRESHOLDS.ccrt ? 1 : 0;
  const residualIcCcrt: 0 | 1 = s.residualIcCcrt > RESIDUAL_THRESHOLDS.icCcrt ? 1 : 0;
  const actualResidualScore = regimen === 'IC+CCRT' ? s.residualIcCcrt : s.residualCcrt;
  const remaining = remainingFraction(actualResidualScore, rr);
  const progression = progressionScore(z, remaining, rr);

  // Post-treatment lesions: radii scale with the cube root of the remaining volume fraction.
  const nodeRemaining = clamp(remaining * rr.uniform(0.6, 1.3), 0.04, 0.9);
  const followupLesions = [...benign, ...nodes, tumour].map((l) => shrinkLesion(l, l.kind === 'gtv' ? remaining : l.kind === 'gtvln' ? nodeRemaining : 1));

  const metNodes = nodes.filter((l) => l.kind === 'gtvln');
  const imageFeatures: ImageFeatures = {
    tumourVolumeMl,
    nodalVolumeMl,
    metastaticNodeCount: metNodes.length,
    largestNodeMm: round(Math.max(0, ...metNodes.flatMap((l) => l.blobs.map(blobGreatestDimension))), 1),
    bilateralNodes: new Set(metNodes.filter((l) => l.level !== 'RP').map((l) => l.side)).size >= 2,
    retropharyngealNodes: metNodes.some((l) => l.level === 'RP'),
    nodesBelowCricoid: metNodes.some((l) => l.blobs.some((b) => b.cz - b.rz < CRICOID_CAUDAL_Z)),
    invasion,
    heterogeneity: round(heterogeneity, 3),
    enhancement: round(enhancement, 3),
    primarySide: side > 0 ? 'left' : 'right',
  };

  const rn = rng.fork('name');
  const [sa, sh] = rn.pick(SURNAMES);
  const [ga, gh] = rn.pick(GIVEN);
  const withIdeographic = rn.chance(0.5);
  const studyYear = 2016 + (opts.index % 8);
  const birthYear = studyYear - age;
  const birthDate = `${birthYear}${String(rn.int(1, 12)).padStart(2, '0')}${String(rn.int(1, 28)).padStart(2, '0')}`;
  const patientId = `${opts.idPrefix ?? 'SYN'}${String(opts.index + 1).padStart(4, '0')}`;

  return {
    index: opts.index,
    seed,
    patientId,
    name: withIdeographic ? { alphabetic: `${sa}^${ga}`, ideographic: `${sh}^${gh}` } : { alphabetic: `${sa}^${ga}` },
    birthDate,
    anatomy: drawAnatomyVariation(rng.fork('anatomy')),
    lesions: [...benign, ...nodes, tumour],
    followupLesions,
    followupDays: rn.int(84, 150),
    appearance: { heterogeneity, enhancement, textureSeed: rng.fork('texture').nextUint32() },
    labels: {
      PatientID: patientId,
      T: t,
      N: n,
      stage,
      dmfs: { ...dmfs, riskScore: round(s.dmfs, 4), highRisk: s.dmfs >= 0 },
      msom: { event: msomEvent, riskScore: round(s.msom, 4), highRisk: s.msom >= 0 },
      residual: { ccrt: residualCcrt, icCcrt: residualIcCcrt, ccrtScore: round(s.residualCcrt, 4), icCcrtScore: round(s.residualIcCcrt, 4) },
      progression: { highRisk: progression >= 0, riskScore: round(progression, 4), remainingFraction: round(remaining, 3) },
      clinical,
      imageFeatures,
    },
  };
}

function drawRegimen(stage: Stage, rng: Rng): Regimen {
  const w = stage === 'IVa' ? [0.2, 0.6, 0.2] : [0.5, 0.3, 0.2];
  return (['CCRT', 'IC+CCRT', 'CCRT+AC'] as const)[rng.weighted(w)]!;
}

/** The primary tumour: a main blob at the fossa of Rosenmüller plus one extension lobe per invaded region. */
function buildTumour(t: TCategory, side: number, heterogeneity: number, rng: Rng): { tumour: Lesion; invasion: Invasion } {
  const base = [8, 10, 11.5, 12.5][t - 1]!;
  const g = clamp(Math.exp(rng.normal(0, 0.22)), 0.7, 1.45);
  const irr = rng.uniform(0.1, 0.22);
  const r = base * g;
  const rz = Math.min(r * rng.uniform(0.9, 1.2), 16);
  const cz = Math.min(-6, 10 - rz);
  const main = makeBlob(rng, side * rng.uniform(5, 9), rng.uniform(-3, 1), cz, r, r * rng.uniform(0.7, 0.85), rz, irr);
  const blobs = [main];
  const invasion: Invasion = { parapharyngeal: t >= 2, skullBase: t >= 3, intracranial: t >= 4 };
  if (invasion.parapharyngeal) {
    const rp = rng.uniform(6, 9) * Math.sqrt(g);
    blobs.push(makeBlob(rng, side * rng.uniform(18, 23), rng.uniform(-5, 1), cz - rng.uniform(0, 4), rp, rp * 1.2, rp * 1.3, irr));
  }
  if (invasion.skullBase) {
    const rs = rng.uniform(7, 9);
    blobs.push(makeBlob(rng, side * rng.uniform(3, 7), rng.uniform(6, 10), 5, rs, rs * 0.85, 6, irr));
  }
  if (invasion.intracranial) {
    blobs.push(makeBlob(rng, side * rng.uniform(9, 11), rng.uniform(-1, 2), 12, 6, 6, 6.5, irr * 0.5));
    const ri = rng.uniform(7.5, 11);
    blobs.push(makeBlob(rng, side * rng.uniform(12, 16), rng.uniform(-8, -3), 21, ri, ri * 0.9, 9, irr));
  }
  const necrosis = heterogeneity > 0.3 ? scaleBlob(main, 0.18 + 0.4 * ((heterogeneity - 0.3) / 0.7)) : null;
  return { tumour: { kind: 'gtv', blobs, necrosis }, invasion };
}

interface NodeSite {
  level: NodeLevel;
  cx: number;
  cy: number;
  cz: number;
  /** Max half-height so that the node stays above the cricoid (levels other than IV). */
  maxRz?: number;
}

function siteFor(level: NodeLevel, s: number, rng: Rng): NodeSite {
  switch (level) {
    case 'RP':
      return { level, cx: s * rng.uniform(13, 16), cy: rng.uniform(10, 14), cz: rng.uniform(-12, -4) };
    case 'II':
      return { level, cx: s * rng.uniform(33, 39), cy: rng.uniform(6, 14), cz: rng.uniform(-40, -24) };
    case 'III': {
      const cz = rng.uniform(-56, -48);
      return { level, cx: s * rng.uniform(32, 36), cy: rng.uniform(4, 10), cz, maxRz: cz - CRICOID_CAUDAL_Z - 1.5 };
    }
    case 'IV':
      return { level, cx: s * rng.uniform(28, 33), cy: rng.uniform(0, 8), cz: rng.uniform(-84, -76) };
    case 'V': {
      const cz = rng.uniform(-54, -30);
      return { level, cx: s * rng.uniform(46, 52), cy: rng.uniform(34, 42), cz, maxRz: cz - CRICOID_CAUDAL_Z - 1.5 };
    }
  }
}

function makeNode(site: NodeSite, s: number, sizeFactor: number, heterogeneity: number, rng: Rng): Lesion {
  const small = site.level === 'RP';
  const r = clamp((small ? rng.uniform(5, 7.5) : rng.uniform(5.5, 10)) * sizeFactor, 5, 15);
  let rz = r * rng.uniform(1.1, 1.5);
  if (site.maxRz !== undefined) rz = Math.min(rz, site.maxRz);
  const blob = makeBlob(rng, site.cx, site.cy, site.cz, r, r * rng.uniform(0.75, 1), rz, rng.uniform(0.04, 0.12));
  const necrotic = r > 7 && rng.chance(1.2 * heterogeneity);
  return {
    kind: 'gtvln',
    blobs: [blob],
    necrosis: necrotic ? scaleBlob(blob, 0.3 + 0.3 * heterogeneity) : null,
    level: site.level,
    side: s > 0 ? 'left' : 'right',
  };
}

/** Metastatic nodes matching N: N1 one side (or retropharyngeal only), N2 both sides, N3 adds level IV. */
function buildNodes(n: NCategory, side: number, heterogeneity: number, rng: Rng): Lesion[] {
  if (n === 0) return [];
  const sizeFactor = clamp(Math.exp(rng.normal(0, 0.28)), 0.6, 1.6);
  const out: Lesion[] = [];
  const upperLevels: NodeLevel[] = ['II', 'II', 'III', 'V'];
  const rpOnly = n === 1 && rng.chance(0.2);
  if (rpOnly || rng.chance(0.45)) out.push(makeNode(siteFor('RP', side, rng), side, sizeFactor, heterogeneity, rng));
  if (!rpOnly) {
    const ipsi = rng.int(1, 3);
    for (let i = 0; i < ipsi; i++) out.push(makeNode(siteFor(i === 0 ? 'II' : rng.pick(upperLevels), side, rng), side, sizeFactor, heterogeneity, rng));
  }
  if (n === 2 || (n === 3 && rng.chance(0.5))) {
    const contra = rng.int(1, 2);
    for (let i = 0; i < contra; i++) out.push(makeNode(siteFor(i === 0 ? 'II' : rng.pick(upperLevels), -side, rng), -side, sizeFactor, heterogeneity, rng));
  }
  if (n === 3) {
    const lowSide = rng.chance(0.8) ? side : -side;
    out.push(makeNode(siteFor('IV', lowSide, rng), lowSide, sizeFactor, heterogeneity, rng));
    // A contralateral cervical node with a level-IV node on the other side would be N3 anyway.
  }
  return out;
}

/** Small (< 1 cm) homogeneous reactive nodes: not GTVln, not in the masks. */
function buildBenignNodes(rng: Rng): Lesion[] {
  const out: Lesion[] = [];
  const count = rng.int(0, 3);
  for (let i = 0; i < count; i++) {
    const s = rng.chance(0.5) ? 1 : -1;
    const site = siteFor(rng.pick(['II', 'V'] as const), s, rng);
    const r = rng.uniform(2.2, 3.8);
    out.push({ kind: 'benign', blobs: [makeBlob(rng, site.cx, site.cy + rng.uniform(-4, 4), site.cz, r, r * 0.8, r * 1.3, 0.05)], necrosis: null, level: site.level, side: s > 0 ? 'left' : 'right' });
  }
  return out;
}

function shrinkLesion(l: Lesion, fraction: number): Lesion {
  if (fraction >= 1) return l;
  const scale = Math.cbrt(fraction);
  // Shrink each blob about the lesion's first (main) blob centre so lobes retract towards it.
  const c = l.blobs[0]!;
  const blobs = l.blobs.map((b) => ({
    ...scaleBlob(b, scale),
    cx: c.cx + (b.cx - c.cx) * scale,
    cy: c.cy + (b.cy - c.cy) * scale,
    cz: c.cz + (b.cz - c.cz) * scale,
  }));
  return { ...l, blobs, necrosis: null };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
function round(v: number, digits: number): number {
  const f = Math.pow(10, digits);
  return Math.round(v * f) / f;
}
