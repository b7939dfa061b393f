/**
 * Patient-level measurements of the localiser's masks: tumour and nodal volumes, the craniocaudal extent
 * of the primary tumour and of the nodes relative to the primary's largest slice, and first-order signal
 * statistics inside the masks on the localiser's own series (CE-T1 for the shipped localiser): mean signal
 * relative to the series' 99th percentile (enhancement, independent of the vendor's scale) and the
 * coefficient of variation inside the primary (heterogeneity, necrosis). A model's image signature
 * (manifest `signature`) may combine them with its networks' vote; they are also reported with the result.
 *
 * The primary tumour is taken as the run of consecutive slices with GTV that holds the largest-tumour slice,
 * so that an isolated false detection far above or below does not stretch its extent. Heights are along the
 * patient's superior axis (+z of LPS), in mm, measured between slice centres.
 */
import type { LocaliserMeasure, ModelManifest, SignatureSpec } from '../infer/manifest';
import { percentiles } from '../prepare/steps/percentile';
import { logit, sigmoid } from './aggregation';
import { SIGNAL_REFERENCE_PERCENTILE, type LocalisationResult } from './localisation';
export type LocaliserMeasures = Record<LocaliserMeasure, number>;

/** A node component smaller than this (mm2 on its slice) does not count for the lowest-node height. */
export const MIN_NODE_AREA_MM2 = 20;

/** Measures of each localisation, computed once however many analyses' signatures read them. */
const measured = new WeakMap<LocalisationResult, LocaliserMeasures>();

export function measureLocalisation(loc: LocalisationResult): LocaliserMeasures {
  let m = measured.get(loc);
  if (!m) {
    m = computeMeasures(loc);
    measured.set(loc, m);
  }
  return m;
}

function computeMeasures(loc: LocalisationResult): LocaliserMeasures {
  const slices = loc.slices;
  const spacing = loc.volume.sliceSpacing;
  const pixelMm2 = (i: number) => slices[i]!.slice.pixelSpacing[0] * slices[i]!.slice.pixelSpacing[1];
  const z = (i: number) => slices[i]!.slice.position[2];
  const out: LocaliserMeasures = {
    gtvVolumeMl: 0,
    gtvlnVolumeMl: 0,
    gtvAboveLargestMm: 0,
    gtvBelowLargestMm: 0,
    gtvlnLowestBelowLargestMm: 0,
    largestNodeDiameterMm: 0,
    gtvRelativeSignal: 0,
    gtvSignalCv: 0,
    gtvlnRelativeSignal: 0,
  };
  // Slices are sorted along the normal; the run of GTV slices around the largest one is the primary tumour.
  const largest = loc.largestTumourSlice;
  let runStart = largest ?? 0;
  let runEnd = largest ?? -1;
  if (largest !== undefined) {
    while (runStart > 0 && slices[runStart - 1]!.gtvAreaPx > 0) runStart--;
    while (runEnd < slices.length - 1 && slices[runEnd + 1]!.gtvAreaPx > 0) runEnd++;
    const zs = [];
    for (let i = runStart; i <= runEnd; i++) {
      out.gtvVolumeMl += (slices[i]!.gtvAreaPx * pixelMm2(i) * spacing) / 1000;
      zs.push(z(i));
    }
    out.gtvAboveLargestMm = Math.max(...zs) - z(largest);
    out.gtvBelowLargestMm = z(largest) - Math.min(...zs);
  }
  let lowestNodeZ: number | undefined;
  slices.forEach((s, i) => {
    out.gtvlnVolumeMl += (s.gtvlnAreaPx * pixelMm2(i) * spacing) / 1000;
    for (const d of s.detections) {
      if (d.label === 'GTV') continue;
      const areaMm2 = d.areaPx * pixelMm2(i);
      out.largestNodeDiameterMm = Math.max(out.largestNodeDiameterMm, 2 * Math.sqrt(areaMm2 / Math.PI));
      if (areaMm2 >= MIN_NODE_AREA_MM2 && (lowestNodeZ === undefined || z(i) < lowestNodeZ)) lowestNodeZ = z(i);
    }
  });
  if (largest !== undefined && lowestNodeZ !== undefined) out.gtvlnLowestBelowLargestMm = Math.max(0, z(largest) - lowestNodeZ);
  const gtv = new SignalSum();
  const gtvln = new SignalSum();
  for (let i = runStart; i <= runEnd; i++) gtv.add(slices[i]!.slice.pixels, slices[i]!.regions.gtvMask);
  for (const s of slices) gtvln.add(s.slice.pixels, s.regions.gtvlnMask);
  if (gtv.n || gtvln.n) {
    const p99 = loc.signalReference ?? percentiles(slices.map((s) => s.slice.pixels), [SIGNAL_REFERENCE_PERCENTILE])[0];
    if (p99 && p99 > 0) {
      out.gtvRelativeSignal = gtv.mean() / p99;
      out.gtvlnRelativeSignal = gtvln.mean() / p99;
    }
    out.gtvSignalCv = gtv.mean() > 0 ? gtv.sd() / gtv.mean() : 0;
  }
  return out;
}

/** Running mean and SD of the pixels under a mask. */
class SignalSum {
  n = 0;
  private sum = 0;
  private sumSq = 0;

  add(pixels: Float32Array, mask: Uint8Array | undefined): void {
    if (!mask) return;
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) continue;
      const v = pixels[i]!;
      this.n++;
      this.sum += v;
      this.sumSq += v * v;
    }
  }

  mean(): number {
    return this.n ? this.sum / this.n : 0;
  }

  sd(): number {
    return this.n ? Math.sqrt(Math.max(0, this.sumSq / this.n - this.mean() ** 2)) : 0;
  }
}

/** sigmoid(intercept + voteCoefficient * logit(vote) + sum(coefficient * transform(measure))). */
export function applySignature(spec: SignatureSpec, vote: number, measures: LocaliserMeasures): number {
  let z = spec.intercept + spec.voteCoefficient * logit(vote);
  for (const m of spec.measures) {
    const v = measures[m.measure];
    z += m.coefficient * (m.transform === 'log1p' ? Math.log1p(Math.max(0, v)) : v);
  }
  return sigmoid(z);
}

export interface SignedVote {
  /** The signature's probability, or the vote itself when the model has no signature. */
  probability: number;
  /** The vote (networksVote) and the measurements that entered the signature, for the result's components. */
  components: Record<string, number>;
  note?: string;
}

/** The networks' vote through the first model's signature (when it has one). */
export function signVote(manifest: ModelManifest, vote: number, loc: LocalisationResult): SignedVote {
  const spec = manifest.signature;
  if (!spec) return { probability: vote, components: { networksVote: vote } };
  const measures = measureLocalisation(loc);
  const used = Object.fromEntries(spec.measures.map((m) => [m.measure, round3(measures[m.measure])]));
  return {
    probability: applySignature(spec, vote, measures),
    components: { networksVote: vote, ...used },
    note: `image signature of ${manifest.id}: the networks' vote ${vote.toFixed(3)} combined with the localiser's ${spec.measures.map((m) => m.measure).join(', ')}`,
  };
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
