/**
 * Runs one scoring model over a patient's slices as its manifest says: slice selection (all, tumour slices,
 * largest-tumour, top-k by area), preparation, batched inference (with the clinical vector as a second input
 * for early fusion), the positive-class probability per slice, its CAM in source pixels, and the patient-level
 * aggregation (mean, area-weighted mean, single slice).
 */
import type { ModelManifest, SliceSelection } from '../infer/manifest';
import type { LoadedModel } from '../infer/model-registry';
import type { NamedTensor } from '../infer/session-pool';
import type { Region } from '../prepare/steps';
import type { Slice, Volume } from '../prepare/volume-types';
import { mean, weightedMean } from './aggregation';
import { camFromModelOutputs, camMethod, toCamMap } from './cam';
import { roiRectangle, type LocalisationResult } from './localisation';
import { fixedBatchOf, identityOf } from './model-identity';
import type { ImagePreparer, PrepareItem, SliceRegions } from './ports';
import { mapRegions, nearestSlice } from './slice-matching';
import type { CamMap, ModelIdentity, PixelBox } from './types';

export interface ScoredSlice {
  slice: Slice;
  probability: number;
  /** Tumour area (source pixels) of the selection region on this slice. */
  areaPx: number;
  /** ROI rectangle with margin on the source slice. */
  roi?: PixelBox;
  cam?: CamMap;
}

export interface ModelScores {
  model: ModelIdentity;
  manifest: ModelManifest;
  /** Patient-level positive-class probability (the manifest's aggregation over `slices`). */
  probability: number;
  slices: ScoredSlice[];
  series: { role: string; volume: Volume }[];
  timingMs: number;
}

export class NotAssessable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'NotAssessable';
  }
}

export interface ScoreOptions {
  volumes: Record<string, Volume>;
  localisation: LocalisationResult;
  preparer: ImagePreparer;
  batchSize: number;
  /** The encoded clinical vector, for models with a clinical input (early fusion). */
  clinicalVector?: number[];
  computeCams?: boolean;
}

interface Candidate {
  slice: Slice;
  regions: SliceRegions;
  areaPx: number;
}

function areaOf(s: { gtvAreaPx: number; gtvlnAreaPx: number }, region: Region): number {
  if (region === 'gtv') return s.gtvAreaPx;
  if (region === 'gtvln') return s.gtvlnAreaPx;
  return s.gtvAreaPx + s.gtvlnAreaPx;
}

/** Applies the manifest's slice selection to candidates (in slice order). Pure; exported for tests. */
export function selectSlices<T extends { areaPx: number }>(candidates: T[], selection: SliceSelection): T[] {
  switch (selection.mode) {
    case 'all':
      return candidates;
    case 'tumour-slices':
      return candidates.filter((c) => c.areaPx > 0);
    case 'largest-tumour': {
      let best: T | undefined;
      for (const c of candidates) if (c.areaPx > 0 && (!best || c.areaPx > best.areaPx)) best = c;
      return best ? [best] : [];
    }
    case 'top-k': {
      const ranked = candidates.map((c, i) => ({ c, i })).filter((x) => x.c.areaPx > 0);
      ranked.sort((a, b) => b.c.areaPx - a.c.areaPx || a.i - b.i);
      return ranked.slice(0, selection.k).sort((a, b) => a.i - b.i).map((x) => x.c);
    }
  }
}

/** Patient-level aggregation of slice probabilities. Pure; exported for tests. */
export function aggregate(kind: ModelManifest['aggregation'], probabilities: number[], areas: number[]): number {
  if (kind === 'single') {
    if (probabilities.length !== 1) throw new Error(`aggregation "single" needs one slice, got ${probabilities.length}`);
    return probabilities[0]!;
  }
  return kind === 'mean' ? mean(probabilities) : weightedMean(probabilities, areas);
}

/** The positive-class probability of item `i` from a probability or logits output. */
export function positiveProbability(t: NamedTensor, i: number, meaning: 'probability' | 'logits', positiveIndex?: number): number {
  const k = t.dims.length === 1 ? 1 : t.dims.slice(1).reduce((a, b) => a * b, 1);
  const row = Array.from(t.data.subarray(i * k, (i + 1) * k));
  const pos = positiveIndex ?? (k === 1 ? 0 : 1);
  if (pos >= k) throw new Error(`positiveIndex ${pos} outside ${k} classes`);
  if (meaning === 'probability') return row[pos]!;
  if (k === 1) return 1 / (1 + Math.exp(-row[0]!));
  const max = Math.max(...row);
  const exps = row.map((v) => Math.exp(v - max));
  return exps[pos]! / exps.reduce((a, b) => a + b, 0);
}

export async function scoreModel(model: LoadedModel, opts: ScoreOptions): Promise<ModelScores> {
  const started = performance.now();
  const m = model.manifest;
  const image = m.inputs.find((i) => i.kind === 'image');
  if (!image || image.kind !== 'image') throw new Error(`model ${m.id}: no image input`);
  const missing = image.roles.filter((r) => !opts.volumes[r]);
  if (missing.length) throw new NotAssessable(`no ${missing.join(', ')} series (model ${m.id} needs ${image.roles.join(' + ')})`);
  const roleVolumes = image.roles.map((r) => opts.volumes[r]!);
  const reference = roleVolumes[0]!;
  const loc = opts.localisation;
  const region: Region = 'region' in m.sliceSelection ? m.sliceSelection.region : 'gtv+gtvln';

  // Candidates: every reference slice, with the localiser's regions carried over from the matching slice.
  const candidates: Candidate[] = [];
  for (const slice of reference.slices) {
    const locSlice = loc.volume === reference ? loc.slices.find((s) => s.slice === slice) : matchLocalised(loc, slice);
    const regions = locSlice ? mapRegions(locSlice.regions, locSlice.slice, loc.volume, slice, reference) : {};
    candidates.push({ slice, regions, areaPx: locSlice ? areaOf(locSlice, region) : 0 });
  }
  const selected = selectSlices(candidates, m.sliceSelection);
  if (!selected.length) {
    throw new NotAssessable(m.sliceSelection.mode === 'all' ? `no slices in the ${image.roles[0]} series` : `no tumour found by the localiser on the ${image.roles[0]} series`);
  }

  // One item per selected slice: the slice of every role at the same level, regions mapped onto each.
  const items: PrepareItem[] = [];
  const kept: Candidate[] = [];
  for (const c of selected) {
    const channels: Slice[] = [c.slice];
    const regions: SliceRegions[] = [c.regions];
    let complete = true;
    for (let k = 1; k < roleVolumes.length; k++) {
      const other = nearestSlice(roleVolumes[k]!, c.slice);
      if (!other) {
        complete = false;
        break;
      }
      channels.push(other);
      regions.push(mapRegions(c.regions, c.slice, reference, other, roleVolumes[k]!));
    }
    if (!complete) continue;
    items.push({ channels, volumes: roleVolumes, regions });
    kept.push(c);
  }
  if (!items.length) throw new NotAssessable(`no slice of the ${image.roles.slice(1).join(', ')} series at the level of the selected ${image.roles[0]} slices`);

  const prepared = await opts.preparer.prepareBatch(items, m.preparation);
  const [, ch, rows, cols] = prepared.dims;
  const [, wantCh, wantRows, wantCols] = image.shape;
  if (ch !== wantCh || rows !== wantRows || cols !== wantCols) {
    throw new Error(`model ${m.id}: preparation gives [${ch},${rows},${cols}], the input ${image.name} is [${String(wantCh)},${String(wantRows)},${String(wantCols)}]`);
  }
  const feeds: Record<string, NamedTensor> = { [image.name]: { data: prepared.data, dims: prepared.dims } };
  if (m.clinical?.use === 'input') {
    const v = opts.clinicalVector;
    if (!v) throw new NotAssessable(`model ${m.id} needs the clinical vector`);
    const data = new Float32Array(items.length * v.length);
    for (let i = 0; i < items.length; i++) data.set(v, i * v.length);
    feeds[m.clinical.input] = { data, dims: [items.length, v.length] };
  }
  const outputs = await model.session.runBatched(feeds, { batchSize: opts.batchSize, ...fixedBatchOf(image.shape[0]!) });
  const probOut = m.outputs.find((o) => o.meaning === 'probability' || o.meaning === 'logits')!;
  const probT = outputs[probOut.name];
  if (!probT) throw new Error(`model ${m.id}: no output ${probOut.name}`);

  const slices: ScoredSlice[] = kept.map((c, i) => {
    const probability = positiveProbability(probT, i, probOut.meaning as 'probability' | 'logits', probOut.positiveIndex);
    if (!(probability >= 0 && probability <= 1)) throw new Error(`model ${m.id}: probability ${probability} outside 0..1`);
    const roi = roiRectangle(c.regions, region === 'whole' ? 'gtv+gtvln' : region, c.slice);
    const s: ScoredSlice = { slice: c.slice, probability, areaPx: c.areaPx, ...(roi ? { roi } : {}) };
    if (m.cam && opts.computeCams !== false) {
      const raw = camFromModelOutputs(m.cam, outputs, i);
      s.cam = toCamMap(raw, c.slice.image, camMethod(m.cam, m.id), { rows, columns: cols }, prepared.transforms[i]!, c.slice);
    }
    return s;
  });
  const probability = aggregate(m.aggregation, slices.map((s) => s.probability), slices.map((s) => s.areaPx));
  return {
    model: identityOf(model),
    manifest: m,
    probability,
    slices,
    series: image.roles.map((role, k) => ({ role, volume: roleVolumes[k]! })),
    timingMs: performance.now() - started,
  };
}

/** Scores each model in turn (in the given order) with the same options. */
export async function scoreModels(models: readonly LoadedModel[], opts: ScoreOptions): Promise<ModelScores[]> {
  const scores: ModelScores[] = [];
  for (const m of models) scores.push(await scoreModel(m, opts));
  return scores;
}

/** The localised slice at the level of `slice` (which may belong to another series of the study). */
export function matchLocalised(loc: LocalisationResult, slice: Slice) {
  const s = nearestSlice(loc.volume, slice);
  return s ? loc.slices.find((x) => x.slice === s) : undefined;
}
