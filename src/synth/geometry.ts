/**
 * Image planes in patient space (DICOM LPS: +x patient left, +y posterior, +z superior, mm) and the
 * scan-line helper shared by the anatomy and lesion rasterisers. Every supported plane (axial, sagittal,
 * coronal) has rows of constant z, so a row is a line in the axial cross-section at that z.
 */
export type Vec3 = [number, number, number];

export interface Plane {
  /** Centre of the first transmitted pixel (ImagePositionPatient). */
  origin: Vec3;
  /** Direction of increasing column index (first triplet of ImageOrientationPatient). */
  rowDir: Vec3;
  /** Direction of increasing row index (second triplet). */
  colDir: Vec3;
  rows: number;
  columns: number;
  /** [row spacing, column spacing] in mm, DICOM PixelSpacing order. */
  pixelSpacing: [number, number];
}

/** The line of one image row: point(t) = (x0 + t*dx, y0 + t*dy) at height z, t in mm along the row. */
export interface RowLine {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  z: number;
  /** Column spacing (mm per column). */
  step: number;
  columns: number;
}

export function rowLine(plane: Plane, row: number): RowLine {
  if (plane.rowDir[2] !== 0) throw new Error('synthetic planes must have rows of constant z');
  const d = row * plane.pixelSpacing[0];
  return {
    x0: plane.origin[0] + plane.colDir[0] * d,
    y0: plane.origin[1] + plane.colDir[1] * d,
    z: plane.origin[2] + plane.colDir[2] * d,
    dx: plane.rowDir[0],
    dy: plane.rowDir[1],
    step: plane.pixelSpacing[1],
    columns: plane.columns,
  };
}

/**
 * Columns [first, last] of `line` inside the axis-aligned ellipse (cx, cy, rx, ry), optionally clipped to
 * yMin <= y <= yMax; null when the row misses it.
 */
export function ellipseSpan(
  line: RowLine,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  yMin = -Infinity,
  yMax = Infinity,
): [number, number] | null {
  if (rx <= 0 || ry <= 0) return null;
  const ax = line.dx / rx;
  const ay = line.dy / ry;
  const bx = (line.x0 - cx) / rx;
  const by = (line.y0 - cy) / ry;
  const A = ax * ax + ay * ay;
  const B = 2 * (ax * bx + ay * by);
  const C = bx * bx + by * by - 1;
  let t1: number;
  let t2: number;
  if (A < 1e-12) {
    if (C > 0) return null;
    t1 = -Infinity;
    t2 = Infinity;
  } else {
    const disc = B * B - 4 * A * C;
    if (disc < 0) return null;
    const s = Math.sqrt(disc);
    t1 = (-B - s) / (2 * A);
    t2 = (-B + s) / (2 * A);
  }
  // Half-plane clips on y.
  if (yMin !== -Infinity || yMax !== Infinity) {
    if (Math.abs(line.dy) < 1e-12) {
      if (line.y0 < yMin || line.y0 > yMax) return null;
    } else {
      const ta = (yMin - line.y0) / line.dy;
      const tb = (yMax - line.y0) / line.dy;
      t1 = Math.max(t1, Math.min(ta, tb));
      t2 = Math.min(t2, Math.max(ta, tb));
    }
  }
  const first = Math.max(0, Math.ceil(t1 / line.step));
  const last = Math.min(line.columns - 1, Math.floor(t2 / line.step));
  return first <= last ? [first, last] : null;
}

/** An axial plane stack position: the plane of slice `index` for a stack starting at z0 going by dz. */
export function axialPlane(
  centreX: number,
  centreY: number,
  z: number,
  rows: number,
  columns: number,
  spacing: number,
): Plane {
  return {
    origin: [centreX - ((columns - 1) / 2) * spacing, centreY - ((rows - 1) / 2) * spacing, z],
    rowDir: [1, 0, 0],
    colDir: [0, 1, 0],
    rows,
    columns,
    pixelSpacing: [spacing, spacing],
  };
}

export function sagittalPlane(x: number, centreY: number, centreZ: number, size: number, spacing: number): Plane {
  return {
    origin: [x, centreY - ((size - 1) / 2) * spacing, centreZ + ((size - 1) / 2) * spacing],
    rowDir: [0, 1, 0],
    colDir: [0, 0, -1],
    rows: size,
    columns: size,
    pixelSpacing: [spacing, spacing],
  };
}

export function coronalPlane(y: number, centreX: number, centreZ: number, size: number, spacing: number): Plane {
  return {
    origin: [centreX - ((size - 1) / 2) * spacing, y, centreZ + ((size - 1) / 2) * spacing],
    rowDir: [1, 0, 0],
    colDir: [0, 0, -1],
    rows: size,
    columns: size,
    pixelSpacing: [spacing, spacing],
  };
}
