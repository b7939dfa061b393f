/** Synthetic axial volumes with a bright "tumour" and a mid-grey "node", for analysis tests (seeded noise). */
import type { Slice, Volume } from '../../../src/prepare/volume-types';

export interface Blob {
  cx: number;
  cy: number;
  r: number;
  value: number;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

export const SIZE = 128;

/** `blobs[i]` are painted on slice i; background ~100 with noise, tumour 1000, node 600. */
export function syntheticVolume(opts: { role: string; seriesInstanceUid: string; studyInstanceUid: string; blobs: Blob[][]; seed: number; spacingMm?: number }): Volume {
  const random = rng(opts.seed);
  const spacing = opts.spacingMm ?? 1;
  const slices: Slice[] = opts.blobs.map((blobs, i) => {
    const pixels = new Float32Array(SIZE * SIZE);
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        let v = 100 + 20 * random();
        for (const b of blobs) if ((x - b.cx) ** 2 + (y - b.cy) ** 2 <= b.r ** 2) v = b.value;
        pixels[y * SIZE + x] = v;
      }
    }
    pixels[0] = 1000; // same intensity range on every slice
    return {
      pixels,
      rows: SIZE,
      columns: SIZE,
      pixelSpacing: [spacing, spacing],
      position: [0, 0, i * 5],
      location: i * 5,
      image: {
        studyInstanceUid: opts.studyInstanceUid,
        seriesInstanceUid: opts.seriesInstanceUid,
        sopInstanceUid: `${opts.seriesInstanceUid}.${i + 1}`,
        sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
      },
    };
  });
  return {
    seriesInstanceUid: opts.seriesInstanceUid,
    seriesDescription: opts.role.toUpperCase(),
    role: opts.role,
    orientation: [1, 0, 0, 0, 1, 0],
    normal: [0, 0, 1],
    sliceSpacing: 5,
    slices,
  };
}

/** Six slices: tumour on slices 2-4 (largest on 3), a node on slices 1-3. */
export function standardBlobs(): Blob[][] {
  const tumour = (r: number): Blob => ({ cx: 60, cy: 50, r, value: 1000 });
  const node = (r: number): Blob => ({ cx: 95, cy: 90, r, value: 600 });
  return [[], [node(6)], [tumour(8), node(8)], [tumour(14), node(7)], [tumour(6)], []];
}

export function syntheticStudy(studyInstanceUid: string, seed: number, roles = ['ce-t1', 't2']): Record<string, Volume> {
  const out: Record<string, Volume> = {};
  roles.forEach((role, k) => {
    out[role] = syntheticVolume({ role, seriesInstanceUid: `${studyInstanceUid}.${k + 1}`, studyInstanceUid, blobs: standardBlobs(), seed: seed + k });
  });
  return out;
}
