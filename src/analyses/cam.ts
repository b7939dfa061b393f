/**
 * Class-activation maps for every score: from an in-graph CAM output, or from the last feature map and the
 * classifier weights the manifest carries (cam = relu(sum_c w_c A_c); for a GAP + linear head this equals
 * Grad-CAM). Maps are normalised to 0..1 and mapped back to the source slice's pixel space through the
 * preparation's PixelTransform (outside the prepared region the map is 0).
 */
import type { CamSpec } from '../infer/manifest';
import type { NamedTensor } from '../infer/session-pool';
import { axisSamples } from '../prepare/steps/bilinear';
import type { PixelTransform } from './ports';
import type { CamMap, ImageRef } from './types';

/** A map in the model's feature grid (h x w), not yet normalised. */
export interface RawCam {
  rows: number;
  columns: number;
  data: Float32Array;
}

/** Item `index` of an in-graph CAM output shaped [N,h,w] or [N,1,h,w]. */
export function camFromOutput(t: NamedTensor, index: number): RawCam {
  const dims = t.dims;
  if (!(dims.length === 3 || (dims.length === 4 && dims[1] === 1))) throw new Error(`CAM output has shape [${dims.join(',')}]; [N,h,w] or [N,1,h,w] expected`);
  const rows = dims[dims.length - 2]!;
  const columns = dims[dims.length - 1]!;
  const n = rows * columns;
  return { rows, columns, data: Float32Array.from(t.data.subarray(index * n, (index + 1) * n), (v) => Math.max(0, v)) };
}

/** relu(sum_c weights[c] * A_c) for item `index` of a feature map [N,C,h,w]. */
export function camFromFeatures(t: NamedTensor, index: number, weights: readonly number[]): RawCam {
  if (t.dims.length !== 4) throw new Error(`feature map has shape [${t.dims.join(',')}]; [N,C,h,w] expected`);
  const [, c, rows, columns] = t.dims as [number, number, number, number];
  if (weights.length !== c) throw new Error(`CAM: ${weights.length} weights for ${c} feature channels`);
  const n = rows * columns;
  const base = index * c * n;
  const data = new Float32Array(n);
  for (let k = 0; k < c; k++) {
    const w = weights[k]!;
    const off = base + k * n;
    for (let i = 0; i < n; i++) data[i] = data[i]! + w * t.data[off + i]!;
  }
  for (let i = 0; i < n; i++) data[i] = Math.max(0, data[i]!);
  return { rows, columns, data };
}

export function camFromModelOutputs(spec: CamSpec, outputs: Record<string, NamedTensor>, index: number): RawCam {
  const t = outputs[spec.output];
  if (!t) throw new Error(`CAM: the model gave no output "${spec.output}"`);
  return spec.kind === 'in-graph' ? camFromOutput(t, index) : camFromFeatures(t, index, spec.weights);
}

/** Scales to 0..1 by the maximum (an all-zero map stays zero). */
export function normaliseCam(cam: RawCam): RawCam {
  let max = 0;
  for (const v of cam.data) if (v > max) max = v;
  const data = new Float32Array(cam.data.length);
  if (max > 0) for (let i = 0; i < data.length; i++) data[i] = Math.max(0, cam.data[i]!) / max;
  return { ...cam, data };
}

/**
 * Maps a (normalised) CAM on the model's grid to the source slice: each source pixel centre goes to model-input
 * coordinates (inverse of `transform`), then to the CAM grid (the CAM covers the whole input), sampled bilinearly.
 */
export function mapCamToSource(
  cam: RawCam,
  input: { rows: number; columns: number },
  transform: PixelTransform,
  source: { rows: number; columns: number },
): Float32Array {
  const out = new Float32Array(source.rows * source.columns);
  const fx = cam.columns / input.columns;
  const fy = cam.rows / input.rows;
  // The sampling positions depend on the column alone and on the row alone: computed once per column and row.
  // A source pixel centre maps to model-input coordinates (inverse of `transform`), then to the CAM grid.
  const inputOf = (s: number, offset: number, scale: number) => (s + 0.5 - offset) / scale;
  const cols = axisSamples(source.columns, cam.columns, (s) => inputOf(s, transform.offsetX, transform.scaleX) * fx - 0.5);
  const rows = axisSamples(source.rows, cam.rows, (s) => inputOf(s, transform.offsetY, transform.scaleY) * fy - 0.5);
  const colInside = insideInput(source.columns, (s) => inputOf(s, transform.offsetX, transform.scaleX), input.columns);
  const d = cam.data;
  for (let sy = 0; sy < source.rows; sy++) {
    const iy = inputOf(sy, transform.offsetY, transform.scaleY);
    if (iy < 0 || iy >= input.rows) continue;
    const r0 = rows.i0[sy]! * cam.columns;
    const r1 = rows.i1[sy]! * cam.columns;
    const wy0 = rows.w0[sy]!;
    const wy1 = rows.w1[sy]!;
    const o = sy * source.columns;
    for (let sx = 0; sx < source.columns; sx++) {
      if (!colInside[sx]) continue;
      const x0 = cols.i0[sx]!;
      const x1 = cols.i1[sx]!;
      const wx0 = cols.w0[sx]!;
      const wx1 = cols.w1[sx]!;
      const top = d[r0 + x0]! * wx0 + d[r0 + x1]! * wx1;
      const bottom = d[r1 + x0]! * wx0 + d[r1 + x1]! * wx1;
      out[o + sx] = top * wy0 + bottom * wy1;
    }
  }
  return out;
}

/** Whether each source index's model-input coordinate falls inside the input (0 <= x < size). */
function insideInput(n: number, inputOf: (s: number) => number, size: number): Uint8Array {
  const inside = new Uint8Array(n);
  for (let s = 0; s < n; s++) {
    const i = inputOf(s);
    inside[s] = i >= 0 && i < size ? 1 : 0;
  }
  return inside;
}

/** The mean of several models' maps of one slice, renormalised to 0..1 (an ensemble's heat map). */
export function meanCamMaps(maps: CamMap[], method: string): CamMap {
  const first = maps[0];
  if (!first) throw new Error('mean of no CAM maps');
  if (maps.length === 1) return first;
  const data = new Float32Array(first.data.length);
  for (const m of maps) {
    if (m.rows !== first.rows || m.columns !== first.columns) throw new Error('CAM maps of one slice differ in size');
    for (let i = 0; i < data.length; i++) data[i] = data[i]! + m.data[i]! / maps.length;
  }
  const n = normaliseCam({ rows: first.rows, columns: first.columns, data });
  return { image: first.image, rows: first.rows, columns: first.columns, data: n.data, method };
}

export function camMethod(spec: CamSpec, modelId: string): string {
  return spec.kind === 'in-graph'
    ? `CAM output "${spec.output}" of ${modelId} (GAP + linear head: equals Grad-CAM)`
    : `CAM from feature map "${spec.output}" of ${modelId} and the classifier weights in its manifest`;
}

export function toCamMap(raw: RawCam, image: ImageRef, method: string, input: { rows: number; columns: number }, transform: PixelTransform, source: { rows: number; columns: number }): CamMap {
  const n = normaliseCam(raw);
  return { image, rows: source.rows, columns: source.columns, data: mapCamToSource(n, input, transform, source), method };
}
