/**
 * Image plane classification from ImageOrientationPatient (PS3.3 C.7.6.2.1.1): the slice normal is the
 * cross product of the row and column direction cosines; a slice is axial when that normal lies within a
 * tolerance of the patient's feet-head (z) axis, sagittal for left-right (x), coronal for anterior-posterior (y).
 */

export type Plane = 'axial' | 'sagittal' | 'coronal';
export type PlaneClass = Plane | 'oblique' | 'unknown';

export type Vec3 = [number, number, number];

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export function normalize(v: Vec3): Vec3 | undefined {
  const n = Math.hypot(v[0], v[1], v[2]);
  if (!(n > 1e-6) || !Number.isFinite(n)) return undefined;
  return [v[0] / n, v[1] / n, v[2] / n];
}

/** The unit slice normal of an ImageOrientationPatient value, or undefined when it is not usable. */
export function sliceNormal(iop: readonly number[] | undefined): Vec3 | undefined {
  if (!iop || iop.length !== 6 || iop.some((v) => typeof v !== 'number' || !Number.isFinite(v))) return undefined;
  const row = normalize([iop[0]!, iop[1]!, iop[2]!]);
  const col = normalize([iop[3]!, iop[4]!, iop[5]!]);
  if (!row || !col) return undefined;
  return normalize(cross(row, col));
}

const PLANE_AXIS: Record<Plane, 0 | 1 | 2> = { sagittal: 0, coronal: 1, axial: 2 };

/** Angle in degrees between the slice normal and the normal of `plane` (0 = exactly that plane). */
export function angleToPlane(iop: readonly number[] | undefined, plane: Plane): number | undefined {
  const n = sliceNormal(iop);
  if (!n) return undefined;
  const c = Math.min(1, Math.abs(n[PLANE_AXIS[plane]]));
  return (Math.acos(c) * 180) / Math.PI;
}

export interface OrientationClass {
  plane: PlaneClass;
  /** Angle between the slice normal and the nearest plane's normal, in degrees. */
  angleDegrees?: number;
}

/** Classify an orientation: the nearest standard plane when within `toleranceDegrees`, else 'oblique'. */
export function classifyOrientation(iop: readonly number[] | undefined, toleranceDegrees = 20): OrientationClass {
  const n = sliceNormal(iop);
  if (!n) return { plane: 'unknown' };
  let best: Plane = 'axial';
  for (const p of ['sagittal', 'coronal', 'axial'] as Plane[]) {
    if (Math.abs(n[PLANE_AXIS[p]]) > Math.abs(n[PLANE_AXIS[best]])) best = p;
  }
  const angle = angleToPlane(iop, best)!;
  return { plane: angle <= toleranceDegrees ? best : 'oblique', angleDegrees: angle };
}
