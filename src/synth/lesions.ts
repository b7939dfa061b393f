/**
 * Primary tumour (GTV), metastatic cervical nodes (GTVln) and small benign nodes as irregular blobs:
 * star-shaped ellipsoids whose cross-section radius is modulated by a few angular harmonics, so that no
 * lesion is a perfect circle. A lesion may hold a necrotic core (a shrunken copy of its main blob).
 */
import type { RowLine } from './geometry';
import { Tissue, MaskLabel, type TissueId } from './tissues';
import type { Rng } from './rng';

export interface Harmonic {
  k: number;
  amp: number;
  phase: number;
}

export interface Blob {
  cx: number;
  cy: number;
  cz: number;
  rx: number;
  ry: number;
  rz: number;
  harmonics: Harmonic[];
  /** Rotation of the harmonics with height (radians per unit of normalised z). */
  twist: number;
}

export type LesionKind = 'gtv' | 'gtvln' | 'benign';

export interface Lesion {
  kind: LesionKind;
  /** The union of these blobs is the lesion. */
  blobs: Blob[];
  /** Necrotic core (inside blobs[0]); null when solid. */
  necrosis: Blob | null;
  /** Nodal level (nodes only): RP, II, III, IV, V. */
  level?: NodeLevel;
  side?: 'left' | 'right';
}

export type NodeLevel = 'RP' | 'II' | 'III' | 'IV' | 'V';

export function drawHarmonics(rng: Rng, irregularity: number): Harmonic[] {
  const out: Harmonic[] = [];
  for (const k of [2, 3, 4, 5]) {
    out.push({ k, amp: irregularity * rng.uniform(0.2, 1) / (k - 1), phase: rng.uniform(0, 2 * Math.PI) });
  }
  return out;
}

export function makeBlob(rng: Rng, cx: number, cy: number, cz: number, rx: number, ry: number, rz: number, irregularity: number): Blob {
  return { cx, cy, cz, rx, ry, rz, harmonics: drawHarmonics(rng, irregularity), twist: rng.uniform(-1, 1) };
}

/** A copy of `b` with its radii multiplied by `scale` about its own centre. */
export function scaleBlob(b: Blob, scale: number): Blob {
  return { ...b, rx: b.rx * scale, ry: b.ry * scale, rz: b.rz * scale };
}

function maxBoundary(b: Blob): number {
  let m = 1;
  for (const h of b.harmonics) m += Math.abs(h.amp);
  return m;
}

/** True when (x, y, z) lies inside blob b. */
export function insideBlob(b: Blob, x: number, y: number, z: number): boolean {
  const dz = (z - b.cz) / b.rz;
  if (dz <= -1 || dz >= 1) return false;
  const s = Math.sqrt(1 - dz * dz);
  const u = (x - b.cx) / b.rx;
  const v = (y - b.cy) / b.ry;
  const rho2 = u * u + v * v;
  const m = maxBoundary(b) * s;
  if (rho2 >= m * m) return false;
  const theta = Math.atan2(v, u) + b.twist * dz;
  let r = 1;
  for (const h of b.harmonics) r += h.amp * Math.cos(h.k * theta + h.phase);
  r *= s;
  return rho2 < r * r;
}

/** Largest extent of a blob in any direction, mm (its greatest dimension, an upper bound). */
export function blobGreatestDimension(b: Blob): number {
  return 2 * Math.max(b.rx * maxBoundary(b), b.ry * maxBoundary(b), b.rz);
}

/** Which columns of the row may touch blob b (a bounding interval), or null. */
function blobSpan(line: RowLine, b: Blob): [number, number] | null {
  const dz = (line.z - b.cz) / b.rz;
  if (dz <= -1 || dz >= 1) return null;
  const s = Math.sqrt(1 - dz * dz) * maxBoundary(b);
  const rx = b.rx * s;
  const ry = b.ry * s;
  // Bounding box of the ellipse along the row.
  let t1 = -Infinity;
  let t2 = Infinity;
  for (const [p0, d, c, r] of [
    [line.x0, line.dx, b.cx, rx],
    [line.y0, line.dy, b.cy, ry],
  ] as const) {
    if (Math.abs(d) < 1e-12) {
      if (Math.abs(p0 - c) > r) return null;
    } else {
      const ta = (c - r - p0) / d;
      const tb = (c + r - p0) / d;
      t1 = Math.max(t1, Math.min(ta, tb));
      t2 = Math.min(t2, Math.max(ta, tb));
    }
  }
  const first = Math.max(0, Math.ceil(t1 / line.step));
  const last = Math.min(line.columns - 1, Math.floor(t2 / line.step));
  return first <= last ? [first, last] : null;
}

const LESION_TISSUE: Record<LesionKind, { solid: TissueId; necrotic: TissueId; mask: number }> = {
  gtv: { solid: Tissue.Tumour, necrotic: Tissue.TumourNecrosis, mask: MaskLabel.Gtv },
  gtvln: { solid: Tissue.Node, necrotic: Tissue.NodeNecrosis, mask: MaskLabel.Gtvln },
  benign: { solid: Tissue.BenignNode, necrotic: Tissue.BenignNode, mask: MaskLabel.Background },
};

/**
 * Paint lesions over a row of tissue labels and write the mask row. Lesions are painted in the order
 * given (nodes first, primary last, so the primary wins where they touch).
 */
export function paintLesionsRow(line: RowLine, lesions: readonly Lesion[], tissue: Uint8Array, mask: Uint8Array): void {
  mask.fill(MaskLabel.Background);
  for (const lesion of lesions) {
    const look = LESION_TISSUE[lesion.kind];
    for (const blob of lesion.blobs) {
      const span = blobSpan(line, blob);
      if (!span) continue;
      for (let c = span[0]; c <= span[1]; c++) {
        const t = c * line.step;
        const x = line.x0 + t * line.dx;
        const y = line.y0 + t * line.dy;
        if (!insideBlob(blob, x, y, line.z)) continue;
        const necrotic = lesion.necrosis !== null && insideBlob(lesion.necrosis, x, y, line.z);
        tissue[c] = necrotic ? look.necrotic : look.solid;
        mask[c] = look.mask;
      }
    }
  }
}

/** Volume of a lesion in ml, estimated on a 2 mm grid (default) over its bounding box. */
export function lesionVolumeMl(lesion: Lesion, gridMm = 2): number {
  let xMin = Infinity, xMax = -Infinity, yMin = Infinity, yMax = -Infinity, zMin = Infinity, zMax = -Infinity;
  for (const b of lesion.blobs) {
    const m = maxBoundary(b);
    xMin = Math.min(xMin, b.cx - b.rx * m);
    xMax = Math.max(xMax, b.cx + b.rx * m);
    yMin = Math.min(yMin, b.cy - b.ry * m);
    yMax = Math.max(yMax, b.cy + b.ry * m);
    zMin = Math.min(zMin, b.cz - b.rz);
    zMax = Math.max(zMax, b.cz + b.rz);
  }
  let count = 0;
  for (let z = zMin + gridMm / 2; z < zMax; z += gridMm) {
    for (let y = yMin + gridMm / 2; y < yMax; y += gridMm) {
      for (let x = xMin + gridMm / 2; x < xMax; x += gridMm) {
        for (const b of lesion.blobs) {
          if (insideBlob(b, x, y, z)) {
            count++;
            break;
          }
        }
      }
    }
  }
  return (count * gridMm * gridMm * gridMm) / 1000;
}
