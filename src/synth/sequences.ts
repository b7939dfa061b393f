/**
 * MR contrast of the phantom: the signal of each tissue per sequence (T1, T2 with or without fat
 * suppression, CE-T1 with or without fat suppression, DWI b1000, ADC, localiser) at 1.5 T and 3 T, and
 * the renderer that turns a tissue label map into stored pixel values (texture, lesion heterogeneity,
 * partial-volume blur, coil shading, fat-saturation failure at 3 T, Rician noise, vendor scale).
 */
import { Tissue, TISSUE_COUNT } from './tissues';
import { latticeHash, Rng } from './rng';
import type { Plane } from './geometry';

export type SequenceKind = 't1' | 't2' | 't2fs' | 'ce-t1' | 'ce-t1fs' | 'dwi' | 'adc' | 'loc';

type Table = Partial<Record<keyof typeof Tissue, number>>;

const T1: Table = {
  Air: 0, Fat: 0.95, Muscle: 0.33, CorticalBone: 0.04, Marrow: 0.8, Mucosa: 0.42, Brain: 0.5, Csf: 0.12,
  Parotid: 0.72, Gland: 0.45, Artery: 0.05, Cord: 0.48, Skin: 0.5, BenignNode: 0.4, Tumour: 0.4,
  TumourNecrosis: 0.25, Node: 0.39, NodeNecrosis: 0.24, Cartilage: 0.3, Vein: 0.08, Vitreous: 0.1, Lymphoid: 0.42,
};
const T2FS: Table = {
  Air: 0, Fat: 0.1, Muscle: 0.16, CorticalBone: 0.03, Marrow: 0.12, Mucosa: 0.72, Brain: 0.48, Csf: 0.95,
  Parotid: 0.35, Gland: 0.5, Artery: 0.03, Cord: 0.45, Skin: 0.3, BenignNode: 0.55, Tumour: 0.6,
  TumourNecrosis: 0.88, Node: 0.62, NodeNecrosis: 0.9, Cartilage: 0.2, Vein: 0.05, Vitreous: 0.95, Lymphoid: 0.7,
};
const T2: Table = { ...T2FS, Fat: 0.72, Marrow: 0.6, Parotid: 0.6, Skin: 0.45 };
const CET1FS: Table = {
  Air: 0, Fat: 0.1, Muscle: 0.3, CorticalBone: 0.04, Marrow: 0.2, Mucosa: 0.8, Brain: 0.45, Csf: 0.1,
  Parotid: 0.38, Gland: 0.65, Artery: 0.2, Cord: 0.42, Skin: 0.4, BenignNode: 0.5, Tumour: 0.7,
  TumourNecrosis: 0.12, Node: 0.62, NodeNecrosis: 0.12, Cartilage: 0.25, Vein: 0.75, Vitreous: 0.08, Lymphoid: 0.7,
};
const CET1: Table = { ...CET1FS, Fat: 0.92, Marrow: 0.8, Parotid: 0.75, Skin: 0.55 };
const DWI: Table = {
  Air: 0, Fat: 0.05, Muscle: 0.2, CorticalBone: 0.02, Marrow: 0.08, Mucosa: 0.35, Brain: 0.4, Csf: 0.1,
  Parotid: 0.2, Gland: 0.3, Artery: 0.02, Cord: 0.35, Skin: 0.15, BenignNode: 0.5, Tumour: 0.8,
  TumourNecrosis: 0.25, Node: 0.75, NodeNecrosis: 0.25, Cartilage: 0.1, Vein: 0.02, Vitreous: 0.1, Lymphoid: 0.7,
};
/** ADC in 10^-3 mm2/s (stored x1000, i.e. in 10^-6 mm2/s). */
const ADC: Table = {
  Air: 0, Fat: 0.1, Muscle: 1.4, CorticalBone: 0, Marrow: 0.4, Mucosa: 1.6, Brain: 0.8, Csf: 3.0,
  Parotid: 1.0, Gland: 1.4, Artery: 0, Cord: 0.9, Skin: 1.0, BenignNode: 1.1, Tumour: 0.75,
  TumourNecrosis: 2.2, Node: 0.8, NodeNecrosis: 2.2, Cartilage: 0.8, Vein: 0, Vitreous: 3.0, Lymphoid: 0.8,
};
const LOC: Table = { ...T1, Fat: 0.8, Muscle: 0.4, Csf: 0.3, Brain: 0.55 };

const TABLES: Record<SequenceKind, Table> = { t1: T1, t2: T2, t2fs: T2FS, 'ce-t1': CET1, 'ce-t1fs': CET1FS, dwi: DWI, adc: ADC, loc: LOC };

export function isFatSuppressed(kind: SequenceKind): boolean {
  return kind === 't2fs' || kind === 'ce-t1fs' || kind === 'dwi';
}

export interface LesionAppearance {
  /** 0..1: texture amplitude and necrosis (drawn per patient). */
  heterogeneity: number;
  /** 0..1: CE-T1 enhancement of tumour and nodes. */
  enhancement: number;
  textureSeed: number;
}

export interface RenderSettings {
  kind: SequenceKind;
  fieldStrength: 1.5 | 3;
  appearance: LesionAppearance;
  /** Stored value per unit signal. */
  scale: number;
  /** Largest stored value (2^BitsStored - 1). */
  maxStored: number;
  /** Noise SD relative to unit signal. */
  noise: number;
  /** Seed of this image's noise (deterministic). */
  noiseSeed: number;
  /** Post-treatment study: oedema/fibrosis raises mucosal T2 signal a little. */
  postTreatment?: boolean;
}

/** Signal per tissue id for a sequence at a field strength (lesion values adjusted for the patient). */
export function signalTable(kind: SequenceKind, field: 1.5 | 3, a: LesionAppearance, post = false): Float32Array {
  const table = TABLES[kind];
  const out = new Float32Array(TISSUE_COUNT);
  for (const [name, id] of Object.entries(Tissue)) out[id] = table[name as keyof typeof Tissue] ?? 0;
  if (kind === 'ce-t1' || kind === 'ce-t1fs') {
    out[Tissue.Tumour] = 0.52 + 0.36 * a.enhancement;
    out[Tissue.Node] = 0.48 + 0.3 * a.enhancement;
  }
  if (kind === 't2' || kind === 't2fs') out[Tissue.Tumour] = 0.56 + 0.08 * a.heterogeneity;
  if (post && (kind === 't2' || kind === 't2fs')) out[Tissue.Mucosa] = Math.min(0.95, out[Tissue.Mucosa]! + 0.1);
  if (field === 3 && (kind === 't1' || kind === 'ce-t1' || kind === 'ce-t1fs' || kind === 'loc')) {
    // T1 contrast is lower at 3 T: pull every tissue a tenth of the way towards mid-grey.
    for (let i = 0; i < out.length; i++) if (i !== Tissue.Air) out[i] = 0.9 * out[i]! + 0.045;
  }
  return out;
}

/** Trilinear value noise in [-1, 1] on a lattice of `cell` mm (smooth texture). */
function valueNoise3(seed: number, x: number, y: number, z: number, cell: number): number {
  const fx = x / cell, fy = y / cell, fz = z / cell;
  const ix = Math.floor(fx), iy = Math.floor(fy), iz = Math.floor(fz);
  const u = fx - ix, v = fy - iy, w = fz - iz;
  const su = u * u * (3 - 2 * u), sv = v * v * (3 - 2 * v), sw = w * w * (3 - 2 * w);
  let acc = 0;
  for (let dz = 0; dz < 2; dz++) {
    for (let dy = 0; dy < 2; dy++) {
      for (let dx = 0; dx < 2; dx++) {
        const weight = (dx ? su : 1 - su) * (dy ? sv : 1 - sv) * (dz ? sw : 1 - sw);
        acc += weight * latticeHash(seed, ix + dx, iy + dy, iz + dz);
      }
    }
  }
  return acc * 2 - 1;
}

const IS_LESION = new Uint8Array(TISSUE_COUNT);
IS_LESION[Tissue.Tumour] = 1;
IS_LESION[Tissue.Node] = 1;

/** 4096 standard-normal values (fixed seed): noise is drawn by indexing this table with xorshift bits. */
const GAUSS = (() => {
  const rng = new Rng('gaussian-table');
  const t = new Float32Array(4096);
  for (let i = 0; i < t.length; i++) t[i] = rng.normal();
  return t;
})();

/**
 * Render one image: tissue labels -> float signal -> blur -> shading/noise -> stored uint16 values.
 * `tissue` is rows x columns labels of `plane`.
 */
export function renderImage(plane: Plane, tissue: Uint8Array, s: RenderSettings): Uint16Array {
  const { rows, columns } = plane;
  const table = signalTable(s.kind, s.fieldStrength, s.appearance, s.postTreatment);
  const n = rows * columns;
  const img = new Float32Array(n);
  const h = s.appearance.heterogeneity;
  const ce = s.kind === 'ce-t1' || s.kind === 'ce-t1fs';
  const lesionAmp = ce ? 0.06 + 0.38 * h : s.kind === 't2' || s.kind === 't2fs' ? 0.04 + 0.22 * h : 0.03 + 0.08 * h;
  const texSeed = s.appearance.textureSeed;
  const fsFail = s.fieldStrength === 3 && isFatSuppressed(s.kind);
  const [rsp, csp] = plane.pixelSpacing;
  // Soft-tissue texture: a coarse random lattice (6 mm) bilinearly interpolated, the same for every
  // sequence of this slice position (seeded by the patient and the plane).
  const cell = 6;
  const gw = Math.ceil((columns * csp) / cell) + 2;
  const gh = Math.ceil((rows * rsp) / cell) + 2;
  const lattice = new Float32Array(gw * gh);
  const planeSeed = (texSeed ^ Math.round(plane.origin[0] * 7 + plane.origin[1] * 131 + plane.origin[2] * 1031)) >>> 0;
  for (let i = 0; i < lattice.length; i++) lattice[i] = latticeHash(planeSeed, i, 7, 3) * 2 - 1;
  const tissueAmp = 0.06;
  for (let r = 0; r < rows; r++) {
    const gy = (r * rsp) / cell;
    const iy = Math.floor(gy);
    const fy = gy - iy;
    const bx = plane.origin[0] + plane.colDir[0] * r * rsp;
    const by = plane.origin[1] + plane.colDir[1] * r * rsp;
    const bz = plane.origin[2] + plane.colDir[2] * r * rsp;
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      const t = tissue[i]!;
      let v = table[t]!;
      if (t === Tissue.Air) {
        img[i] = 0;
        continue;
      }
      const x = bx + plane.rowDir[0] * c * csp;
      const y = by + plane.rowDir[1] * c * csp;
      if (IS_LESION[t] === 1) {
        // Heterogeneous enhancement / signal: a coarse and a fine octave of 3-D value noise.
        const tex = 0.65 * valueNoise3(texSeed, x, y, bz, 5) + 0.35 * valueNoise3(texSeed + 1, x, y, bz, 2.2);
        v *= 1 + lesionAmp * tex;
      } else {
        const gx = (c * csp) / cell;
        const ix = Math.floor(gx);
        const fx = gx - ix;
        const o = iy * gw + ix;
        const tex = (1 - fy) * ((1 - fx) * lattice[o]! + fx * lattice[o + 1]!) + fy * ((1 - fx) * lattice[o + gw]! + fx * lattice[o + gw + 1]!);
        v *= 1 + tissueAmp * tex;
        // Incomplete fat saturation towards the edges of the field at 3 T.
        if (fsFail && t === Tissue.Fat) v += 0.5 * Math.max(0, Math.abs(x) / 70 - 0.75);
      }
      img[i] = v;
    }
  }
  const blurred = blur121(img, rows, columns);
  // Receive-coil shading (neck coil: posterior brighter), stronger at 3 T; Rician noise.
  const shade = s.fieldStrength === 3 ? 0.22 : 0.12;
  const out = new Uint16Array(n);
  let state = s.noiseSeed >>> 0 || 1;
  const sigma = s.noise;
  const scale = s.scale;
  const maxStored = s.maxStored;
  for (let r = 0; r < rows; r++) {
    const by = plane.origin[1] + plane.colDir[1] * r * rsp;
    const bx = plane.origin[0] + plane.colDir[0] * r * rsp;
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      const x = bx + plane.rowDir[0] * c * csp;
      const y = by + plane.rowDir[1] * c * csp;
      const gain = 1 + shade * (y / 100) - 0.5 * shade * ((x * x) / 10000);
      const v = blurred[i]! * gain;
      // Gaussian noise in both channels: xorshift32 bits index a table of normal values.
      state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
      const g1 = GAUSS[state & 4095]!;
      const g2 = GAUSS[(state >>> 12) & 4095]!;
      const g3 = GAUSS[(state >>> 20) & 4095]!;
      const re = v + (g1 + g3) * 0.70710678 * sigma;
      const im = g2 * sigma;
      const m = Math.sqrt(re * re + im * im) * scale;
      out[i] = m >= maxStored ? maxStored : Math.round(m);
    }
  }
  return out;
}

/** Separable [1 2 1]/4 blur (partial-volume softening of the painted edges). */
function blur121(src: Float32Array, rows: number, columns: number): Float32Array {
  const tmp = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const o = r * columns;
    tmp[o] = src[o]!;
    tmp[o + columns - 1] = src[o + columns - 1]!;
    for (let c = 1; c < columns - 1; c++) tmp[o + c] = 0.25 * src[o + c - 1]! + 0.5 * src[o + c]! + 0.25 * src[o + c + 1]!;
  }
  const out = new Float32Array(src.length);
  for (let c = 0; c < columns; c++) {
    out[c] = tmp[c]!;
    out[(rows - 1) * columns + c] = tmp[(rows - 1) * columns + c]!;
  }
  for (let r = 1; r < rows - 1; r++) {
    const o = r * columns;
    for (let c = 0; c < columns; c++) out[o + c] = 0.25 * tmp[o + c - columns]! + 0.5 * tmp[o + c]! + 0.25 * tmp[o + c + columns]!;
  }
  return out;
}
