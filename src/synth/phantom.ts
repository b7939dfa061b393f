/**
 * The normal anatomy of the synthetic nasopharynx/neck phantom: elliptic tubes whose centre and radii
 * vary with height z, painted in order (later structures cover earlier ones). Landmark heights (mm, z up):
 * skull base at SKULL_BASE_Z (everything above it inside the skull is intracranial), nasopharynx around
 * z = -5, oropharynx -18..-45, larynx below -45, caudal border of the cricoid at CRICOID_CAUDAL_Z.
 */
import { Tissue, type TissueId } from './tissues';
import { ellipseSpan, type RowLine } from './geometry';
import type { Rng } from './rng';

/** Floor of the middle cranial fossa / top of the clivus: tumour above this plane is intracranial. */
export const SKULL_BASE_Z = 12;
/** Caudal border of the cricoid cartilage: a metastatic node centred below it is N3 (AJCC 8th). */
export const CRICOID_CAUDAL_Z = -68;
/** Superior and inferior limits of the phantom body (the scanned range lies inside). */
export const PHANTOM_TOP_Z = 70;
export const PHANTOM_BOTTOM_Z = -120;

/** One keyframe of a tube: at height z the cross-section is the ellipse (cx, cy, rx, ry). */
type Key = [z: number, cx: number, cy: number, rx: number, ry: number];

interface Tube {
  tissue: TissueId;
  keys: Key[];
  /** Also paint the mirror image (cx -> -cx). */
  mirror?: boolean;
  /** Radii shrink by this many mm (used to derive fat and muscle layers from the body outline). */
  inset?: number;
  yMin?: number;
  yMax?: number;
}

export interface Section {
  tissue: TissueId;
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  yMin: number;
  yMax: number;
}

/** Per-patient variation of the normal anatomy. */
export interface AnatomyVariation {
  scaleX: number;
  scaleY: number;
  /** Subcutaneous fat thickness, mm. */
  fatMm: number;
}

export function drawAnatomyVariation(rng: Rng): AnatomyVariation {
  return { scaleX: rng.uniform(0.93, 1.07), scaleY: rng.uniform(0.93, 1.07), fatMm: rng.uniform(4, 11) };
}

const BODY: Key[] = [
  [70, 0, 8, 66, 84],
  [35, 0, 6, 74, 95],
  [12, 0, 2, 74, 98],
  [-5, 0, -4, 72, 98],
  [-20, 0, -2, 68, 86],
  [-40, 0, 4, 64, 72],
  [-60, 0, 10, 58, 62],
  [-120, 0, 12, 58, 60],
];

function tube(tissue: TissueId, keys: Key[], extra: Partial<Tube> = {}): Tube {
  return { tissue, keys, ...extra };
}
/** A tube of constant cross-section between z0 and z1. */
function straight(tissue: TissueId, z0: number, z1: number, cx: number, cy: number, rx: number, ry: number, extra: Partial<Tube> = {}): Tube {
  return tube(tissue, [[z1, cx, cy, rx, ry], [z0, cx, cy, rx, ry]], extra);
}
/** A tube that tapers to nothing at both ends (ellipsoid-like), centred at zc with half-height hz. */
function ellipsoid(tissue: TissueId, zc: number, hz: number, cx: number, cy: number, rx: number, ry: number, extra: Partial<Tube> = {}): Tube {
  const keys: Key[] = [];
  for (let i = 0; i <= 8; i++) {
    const u = -1 + (2 * i) / 8;
    const s = Math.sqrt(Math.max(0, 1 - u * u));
    keys.push([zc - u * hz, cx, cy, rx * s, ry * s]);
  }
  return tube(tissue, keys, extra);
}

function anatomyTubes(v: AnatomyVariation): Tube[] {
  const T = Tissue;
  const f = v.fatMm;
  return [
    // Body: skin, subcutaneous fat, deep compartment (muscle by default).
    tube(T.Skin, BODY),
    tube(T.Fat, BODY, { inset: 1.8 }),
    tube(T.Muscle, BODY, { inset: 1.8 + f }),
    // Cranial vault above the skull base: bone, diploe, bone, CSF, brain.
    tube(T.CorticalBone, [[70, 0, 10, 62, 80], [30, 0, 10, 66, 84], [SKULL_BASE_Z, 0, 14, 64, 78], [SKULL_BASE_Z - 6, 0, 20, 40, 50]]),
    tube(T.Marrow, [[70, 0, 10, 59, 77], [30, 0, 10, 63, 81], [SKULL_BASE_Z, 0, 14, 61, 75], [SKULL_BASE_Z - 5, 0, 20, 36, 46]]),
    tube(T.CorticalBone, [[70, 0, 10, 57, 75], [30, 0, 10, 61, 79], [SKULL_BASE_Z, 0, 14, 59, 73], [SKULL_BASE_Z - 4, 0, 20, 33, 43]]),
    tube(T.Csf, [[70, 0, 10, 55, 73], [30, 0, 10, 59, 77], [SKULL_BASE_Z + 1, 0, 14, 57, 71]]),
    tube(T.Brain, [[70, 0, 10, 53, 71], [30, 0, 10, 57, 75], [SKULL_BASE_Z + 2, 0, 16, 54, 68]]),
    // Brain stem and fourth ventricle, prepontine cistern, sylvian CSF.
    straight(T.Csf, -2, 45, 0, 24, 19, 17),
    straight(T.Brain, -2, 45, 0, 26, 15, 13),
    straight(T.Csf, 15, 45, 0, 44, 4, 3),
    straight(T.Csf, 28, 45, 40, -2, 3, 14, { mirror: true }),
    // Orbits (fat, globe) and sphenoid sinus above the skull base.
    ellipsoid(T.CorticalBone, 34, 18, 32, -52, 19, 22, { mirror: true }),
    ellipsoid(T.Fat, 34, 16, 32, -52, 16, 19, { mirror: true }),
    ellipsoid(T.Vitreous, 36, 11, 33, -60, 11, 11, { mirror: true }),
    ellipsoid(T.CorticalBone, 20, 14, 0, -22, 17, 17),
    ellipsoid(T.Mucosa, 20, 12, 0, -22, 15, 15),
    ellipsoid(T.Air, 20, 10, 0, -22, 12, 12),
    // Petrous bones and mastoid air cells.
    ellipsoid(T.CorticalBone, 12, 10, 34, 22, 22, 9, { mirror: true }),
    ellipsoid(T.Air, 8, 7, 48, 28, 7, 6, { mirror: true }),
    // Clivus: fatty marrow wedge sloping down and back.
    tube(T.CorticalBone, [[24, 0, 0, 13, 8], [12, 0, 6, 14, 10], [0, 0, 14, 13, 9], [-6, 0, 18, 9, 6]]),
    tube(T.Marrow, [[23, 0, 0, 10, 6], [12, 0, 6, 11, 8], [0, 0, 14, 10, 7], [-5, 0, 18, 6, 4]]),
    // Nasal cavity with septum and turbinates.
    straight(T.Air, -14, 18, 0, -46, 15, 28),
    straight(T.Mucosa, -12, 10, 9, -46, 5, 20, { mirror: true }),
    straight(T.CorticalBone, -14, 18, 0, -46, 1.2, 26),
    // Maxillary sinuses: bony wall, mucosa, air.
    ellipsoid(T.CorticalBone, -6, 19, 31, -44, 17, 19, { mirror: true }),
    ellipsoid(T.Mucosa, -6, 17, 31, -44, 15, 17, { mirror: true }),
    ellipsoid(T.Air, -6, 15, 31, -44, 12.5, 14.5, { mirror: true }),
    // Parapharyngeal fat, parotid glands, mandibular rami.
    straight(T.Fat, -28, 6, 23, -4, 6, 11, { mirror: true }),
    straight(T.Parotid, -38, 6, 50, 18, 14, 17, { mirror: true }),
    straight(T.CorticalBone, -42, 8, 47, -4, 5.5, 14, { mirror: true }),
    straight(T.Marrow, -41, 7, 47, -4, 3.5, 12, { mirror: true }),
    // Mandibular body: an anterior arc of bone.
    straight(T.CorticalBone, -58, -30, 0, -34, 44, 46, { yMax: -26 }),
    straight(T.Marrow, -57, -31, 0, -34, 41, 43, { yMax: -26 }),
    straight(T.Muscle, -58, -30, 0, -34, 38, 40, { yMax: -20 }),
    // Tongue fat septum, submandibular glands, palatine tonsils.
    straight(T.Fat, -55, -22, 0, -30, 2, 22),
    straight(T.Gland, -62, -36, 32, -18, 10, 9, { mirror: true }),
    ellipsoid(T.Lymphoid, -30, 9, 12, -2, 6, 7, { mirror: true }),
    // Nasopharynx (mucosa, lumen), oropharynx, larynx and trachea.
    tube(T.Mucosa, [[6, 0, -6, 15, 10], [-18, 0, -4, 15, 10], [-45, 0, 0, 13, 9], [-50, 0, -8, 16, 12], [-68, 0, -16, 14, 11], [-120, 0, -18, 12, 11]]),
    tube(T.Air, [[4, 0, -7, 11, 6.5], [-18, 0, -5, 11, 6], [-45, 0, 0, 9, 5.5], [-50, 0, -10, 11, 8], [-68, 0, -18, 9, 7], [-120, 0, -20, 8, 8]]),
    straight(T.Air, -64, -46, 10, -4, 4, 5, { mirror: true }),
    // Thyroid and cricoid cartilage, thyroid gland, oesophagus.
    straight(T.Cartilage, -64, -44, 0, -18, 19, 16, { yMax: -12 }),
    straight(T.Cartilage, CRICOID_CAUDAL_Z, -60, 0, -16, 14, 13),
    straight(T.Mucosa, CRICOID_CAUDAL_Z, -60, 0, -17, 11, 10),
    straight(T.Air, CRICOID_CAUDAL_Z, -60, 0, -18, 8.5, 8),
    straight(T.Gland, -120, -70, 15, -14, 8, 11, { mirror: true }),
    straight(T.Mucosa, -120, -66, -3, -2, 6, 5),
    // Prevertebral (longus) muscles, cervical vertebrae, canal, cord.
    straight(T.Muscle, -120, 4, 9, 10, 7, 5, { mirror: true }),
    straight(T.CorticalBone, -16, -4, 0, 36, 24, 16),
    straight(T.Marrow, -15, -5, 0, 36, 22, 14),
    straight(T.Muscle, -15, -5, 0, 36, 11, 14),
    straight(T.CorticalBone, -26, -2, 0, 22, 7, 7),
    straight(T.Marrow, -25, -3, 0, 22, 5.5, 5.5),
    straight(T.CorticalBone, -120, -26, 0, 26, 13, 11),
    straight(T.Marrow, -120, -27, 0, 26, 11, 9),
    straight(T.CorticalBone, -120, -16, 0, 52, 15, 11),
    straight(T.Csf, -120, 0, 0, 46, 9.5, 7.5),
    straight(T.Cord, -120, 0, 0, 46, 6, 4.5),
    // Nuchal fat planes.
    tube(T.Fat, [[-10, 12, 70, 3, 10], [-50, 11, 58, 2.5, 8], [-120, 10, 56, 2.5, 7]], { mirror: true }),
    // Fat planes of the masticator and retropharyngeal spaces (they make the deep muscles readable).
    straight(T.Fat, -30, 2, 40, -26, 5, 9, { mirror: true }),
    straight(T.Fat, -22, 6, 33, -10, 2, 10, { mirror: true }),
    straight(T.Fat, -60, -2, 0, 7.5, 13, 1.6),
    // Carotid arteries and jugular veins.
    straight(T.Artery, -120, 22, 22, 12, 3, 3, { mirror: true }),
    straight(T.Vein, -120, 8, 28, 20, 4.5, 4.5, { mirror: true }),
    // Sternocleidomastoid with a fat rim.
    straight(T.Fat, -120, -12, 46, 22, 10, 16, { mirror: true }),
    straight(T.Muscle, -120, -12, 46, 22, 8, 14, { mirror: true }),
  ];
}

/** The anatomy of one patient: answers "which ellipses cross height z". */
export class Anatomy {
  private readonly tubes: Tube[];
  private readonly cache = new Map<number, Section[]>();

  constructor(readonly variation: AnatomyVariation) {
    this.tubes = anatomyTubes(variation);
  }

  sectionsAt(z: number): Section[] {
    const key = Math.round(z * 100) / 100;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const out: Section[] = [];
    const { scaleX, scaleY } = this.variation;
    for (const t of this.tubes) {
      const k = interpolate(t.keys, key);
      if (!k) continue;
      const inset = t.inset ?? 0;
      const rx = k[3] * scaleX - inset;
      const ry = k[4] * scaleY - inset;
      if (rx <= 0.2 || ry <= 0.2) continue;
      const yMin = t.yMin === undefined ? -Infinity : t.yMin * scaleY;
      const yMax = t.yMax === undefined ? Infinity : t.yMax * scaleY;
      out.push({ tissue: t.tissue, cx: k[1] * scaleX, cy: k[2] * scaleY, rx, ry, yMin, yMax });
      if (t.mirror) out.push({ tissue: t.tissue, cx: -k[1] * scaleX, cy: k[2] * scaleY, rx, ry, yMin, yMax });
    }
    if (this.cache.size > 4096) this.cache.clear();
    this.cache.set(key, out);
    return out;
  }

  /** Paint the tissue labels of one image row into `out` (length = columns). */
  paintRow(line: RowLine, out: Uint8Array): void {
    out.fill(Tissue.Air);
    for (const s of this.sectionsAt(line.z)) {
      const span = ellipseSpan(line, s.cx, s.cy, s.rx, s.ry, s.yMin, s.yMax);
      if (span) out.fill(s.tissue, span[0], span[1] + 1);
    }
  }
}

/** Linear interpolation between keyframes sorted by descending z; undefined outside their range. */
function interpolate(keys: Key[], z: number): Key | undefined {
  const top = keys[0]!;
  const bottom = keys[keys.length - 1]!;
  if (z > top[0] || z < bottom[0]) return undefined;
  for (let i = 0; i < keys.length - 1; i++) {
    const a = keys[i]!;
    const b = keys[i + 1]!;
    if (z <= a[0] && z >= b[0]) {
      const u = a[0] === b[0] ? 0 : (a[0] - z) / (a[0] - b[0]);
      return [z, a[1] + u * (b[1] - a[1]), a[2] + u * (b[2] - a[2]), a[3] + u * (b[3] - a[3]), a[4] + u * (b[4] - a[4])];
    }
  }
  return undefined;
}
