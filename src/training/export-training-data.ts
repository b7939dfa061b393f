/**
 * Training export: runs the node's own series selection and image preparation over a synthetic cohort
 * folder and writes, per model of the recipe, the exact model-input tensors and their labels, so training
 * sees what serving sees. Layout (read by models/training/train.py):
 *
 *   OUT/<model-id>/x.f32      float32 little-endian, N x C x H x W (the prepared slices, in row order)
 *   OUT/<model-id>/y.u8       localisers only: N x H x W class ids (0 background, 1 GTV, 2 GTVln), the
 *                             ground-truth mask taken through the same geometric steps, nearest neighbour
 *   OUT/<model-id>/meta.json  shape, the recipe entry, the clinical encoding, and one row per sample:
 *                             patientId, label, weight (tumour area of the selection region, source pixels),
 *                             clinical (the encoded vector), sliceIndex, sopInstanceUid
 *
 * Regions come from the cohort's ground-truth masks (serving takes them from the localiser); slices are
 * chosen by the model's sliceSelection with the same function serving uses (selectSlices).
 */
import fs from 'node:fs';
import path from 'node:path';
import { encodeClinical } from '../analyses/clinical-covariates';
import { selectSlices } from '../analyses/model-scoring';
import type { SelectionRule } from '../config/schema';
import { exportModelInputs, type WorkerPool } from '../prepare';
import { sourcePixel } from '../prepare/regions';
import type { PreparedSlice } from '../prepare/pipeline';
import type { Volume } from '../prepare/volume-types';
import type { CohortLabelEntry } from '../synth/cohort';
import { cohortCovariates, trainingLabel } from './cohort-labels';
import { buildRoleVolume, groundTruth, selectStudy, type GroundTruth, type SelectedStudy } from './cohort-study';
import type { LoadedModel } from '../infer/model-registry';
import { localise, type LocalisationResult } from '../analyses/localisation';
import { matchLocalised } from '../analyses/model-scoring';
import { mapRegions } from '../analyses/slice-matching';
import { createPreparer, toPrepareRegions } from '../analyses/prepare-adapter';
import type { Recipe, RecipeModel } from './recipe';

export interface ExportRow {
  patientId: string;
  label: number | null;
  weight: number;
  clinical: number[];
  sliceIndex: number;
  sopInstanceUid: string;
  /** False for extra training slices (recipe trainSliceSelection) that serving would not select. */
  servingSlice: boolean;
}

export interface ExportMeta {
  modelId: string;
  task: string;
  role: string;
  study: 'pre' | 'post';
  label: string | null;
  shape: [number, number, number, number];
  sliceSelection: RecipeModel['sliceSelection'];
  aggregation: RecipeModel['aggregation'];
  preparation: RecipeModel['preparation'];
  clinicalUse: 'logistic' | 'input' | null;
  clinicalVariables: string[];
  clinicalEncoding: NonNullable<RecipeModel['clinical']>['encoding'];
  cohort: { dir: string; seed?: unknown; patients: number };
  /** Where crops, masks and slice areas came from: the cohort's ground-truth masks or a localiser (as in service). */
  regions: 'ground-truth' | 'localiser';
  rows: ExportRow[];
  skipped: { patientId: string; reason: string }[];
}

export interface ExportOptions {
  cohortDir: string;
  outDir: string;
  recipe: Recipe;
  /** The node's selection rules (config.selection.rules). */
  rules: SelectionRule[];
  acceptedTransferSyntaxes: ReadonlySet<string>;
  pool: WorkerPool;
  /** Only these model ids (default: all of the recipe). */
  only?: string[];
  /** Only the first N patients of labels.json. */
  maxPatients?: number;
  onPatient?: (index: number, total: number, patientId: string) => void;
  /**
   * Take crop/mask regions and slice areas from this localiser model, as serving does, instead of the
   * cohort's ground-truth masks (which still give the localiser's own targets). Training then sees the
   * regions it will see in service, errors included.
   */
  localiser?: LoadedModel;
}

export interface ExportSummary {
  models: { id: string; samples: number; patients: number; skipped: number; shape: number[] }[];
}

/** The ground-truth label map taken onto the prepared grid (nearest neighbour through `fromSource`). */
export function labelsOnGrid(labels: Uint8Array | undefined, source: { rows: number; columns: number }, t: PreparedSlice): Uint8Array {
  const out = new Uint8Array(t.rows * t.columns);
  if (!labels) return out;
  for (let r = 0; r < t.rows; r++) {
    for (let c = 0; c < t.columns; c++) {
      const [sr, sc] = sourcePixel(r, c, t.fromSource);
      if (sr >= 0 && sc >= 0 && sr < source.rows && sc < source.columns) out[r * t.columns + c] = labels[sr * source.columns + sc]!;
    }
  }
  return out;
}

/** Area (source pixels) of a selection region on each slice. */
export function selectionAreas(gt: GroundTruth, region: string): number[] {
  return gt.gtvAreaPx.map((g, i) => (region === 'gtv' ? g : region === 'gtvln' ? gt.gtvlnAreaPx[i]! : region === 'whole' ? 1 : g + gt.gtvlnAreaPx[i]!));
}

/**
 * The slices a model takes from a volume, by its sliceSelection (what serving selects), plus those of the
 * recipe's trainSliceSelection when given (e.g. the 3 largest-tumour slices to train a single-slice model
 * on more samples); `serving` tells them apart.
 */
export function chooseSlices(model: RecipeModel, gt: GroundTruth): { index: number; areaPx: number; serving: boolean }[] {
  const region = 'region' in model.sliceSelection ? model.sliceSelection.region : 'gtv+gtvln';
  const areas = selectionAreas(gt, region);
  const candidates = areas.map((areaPx, index) => ({ index, areaPx }));
  const serving = new Set(selectSlices(candidates, model.sliceSelection).map((c) => c.index));
  const extra = model.trainSliceSelection ? selectSlices(candidates, model.trainSliceSelection).map((c) => c.index) : [];
  return candidates.filter((c) => serving.has(c.index) || extra.includes(c.index)).map((c) => ({ ...c, serving: serving.has(c.index) }));
}

function localiserRole(model: LoadedModel): string {
  const image = model.manifest.inputs.find((i) => i.kind === 'image');
  return image && image.kind === 'image' ? image.roles[0]! : 'ce-t1';
}

/** The localiser's regions and areas on each slice of `volume` (matched by position when it is another series). */
export function localisedRegions(loc: LocalisationResult, volume: Volume, gt: GroundTruth): GroundTruth {
  const regions: GroundTruth['regions'] = [];
  const gtvAreaPx: number[] = [];
  const gtvlnAreaPx: number[] = [];
  for (const slice of volume.slices) {
    const ls = loc.volume === volume ? loc.slices.find((s) => s.slice === slice) : matchLocalised(loc, slice);
    const r = ls ? mapRegions(ls.regions, ls.slice, loc.volume, slice, volume) : {};
    regions.push(toPrepareRegions(r, slice));
    gtvAreaPx.push(ls?.gtvAreaPx ?? 0);
    gtvlnAreaPx.push(ls?.gtvlnAreaPx ?? 0);
  }
  return { labels: gt.labels, regions, gtvAreaPx, gtvlnAreaPx };
}

class ModelWriter {
  readonly rows: ExportRow[] = [];
  readonly skipped: { patientId: string; reason: string }[] = [];
  private readonly xFd: number;
  private readonly yFd?: number;
  private shape?: [number, number, number];
  constructor(readonly model: RecipeModel, readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    this.xFd = fs.openSync(path.join(dir, 'x.f32'), 'w');
    if (model.task === 'localiser') this.yFd = fs.openSync(path.join(dir, 'y.u8'), 'w');
  }
  add(t: PreparedSlice, row: ExportRow, y?: Uint8Array): void {
    const s: [number, number, number] = [t.channels, t.rows, t.columns];
    if (!this.shape) this.shape = s;
    else if (s.some((v, i) => v !== this.shape![i])) throw new Error(`${this.model.id}: prepared slice is ${s.join('x')}, earlier ones ${this.shape.join('x')} (end the preparation with a resize)`);
    fs.writeSync(this.xFd, Buffer.from(t.pixels.buffer, t.pixels.byteOffset, t.pixels.byteLength));
    if (this.yFd !== undefined) fs.writeSync(this.yFd, y!);
    this.rows.push(row);
  }
  finish(cohort: ExportMeta['cohort'], regions: ExportMeta['regions']): ExportSummary['models'][number] {
    fs.closeSync(this.xFd);
    if (this.yFd !== undefined) fs.closeSync(this.yFd);
    const m = this.model;
    const [c, h, w] = this.shape ?? [0, 0, 0];
    const meta: ExportMeta = {
      modelId: m.id,
      task: m.task,
      role: m.role,
      study: m.study,
      label: m.label ?? null,
      shape: [this.rows.length, c, h, w],
      sliceSelection: m.sliceSelection,
      aggregation: m.aggregation,
      preparation: m.preparation,
      clinicalUse: m.clinical?.use ?? null,
      clinicalVariables: m.clinical?.encoding.map((e) => e.variable) ?? [],
      clinicalEncoding: m.clinical?.encoding ?? [],
      cohort,
      regions,
      rows: this.rows,
      skipped: this.skipped,
    };
    fs.writeFileSync(path.join(this.dir, 'meta.json'), JSON.stringify(meta));
    return { id: m.id, samples: this.rows.length, patients: new Set(this.rows.map((r) => r.patientId)).size, skipped: this.skipped.length, shape: meta.shape };
  }
}

export async function exportTrainingData(opts: ExportOptions): Promise<ExportSummary> {
  const labels = JSON.parse(fs.readFileSync(path.join(opts.cohortDir, 'labels.json'), 'utf8')) as CohortLabelEntry[];
  const cohortFile = path.join(opts.cohortDir, 'cohort.json');
  const cohortInfo = fs.existsSync(cohortFile) ? (JSON.parse(fs.readFileSync(cohortFile, 'utf8')) as { seed?: unknown }) : {};
  const models = opts.recipe.models.filter((m) => !opts.only || opts.only.includes(m.id));
  if (!models.length) throw new Error(`no recipe model matches ${opts.only?.join(', ')}`);
  const writers = models.map((m) => new ModelWriter(m, path.join(opts.outDir, m.id)));
  const patients = labels.slice(0, opts.maxPatients ?? labels.length);
  for (let p = 0; p < patients.length; p++) {
    const entry = patients[p]!;
    opts.onPatient?.(p, patients.length, entry.PatientID);
    const studies = new Map<string, { dir: string; selected?: SelectedStudy; volumes: Map<string, { volume?: Volume; gt?: GroundTruth; reason?: string }>; localisation?: LocalisationResult }>();
    for (const w of writers) {
      const m = w.model;
      const skip = (reason: string) => w.skipped.push({ patientId: entry.PatientID, reason });
      let st = studies.get(m.study);
      if (!st) {
        const dir = path.join(opts.cohortDir, entry.PatientID, m.study);
        st = { dir, volumes: new Map() };
        if (fs.existsSync(dir)) st.selected = await selectStudy(dir, opts.rules, opts.acceptedTransferSyntaxes);
        studies.set(m.study, st);
      }
      if (!st.selected) {
        skip(`no ${m.study}-treatment study`);
        continue;
      }
      const volumeOf = async (role: string) => {
        let v = st!.volumes.get(role);
        if (!v) {
          const volume = await buildRoleVolume(st!.selected!, role, opts.pool);
          v = volume ? { volume, gt: groundTruth(st!.dir, volume) } : { reason: st!.selected!.selection.missing.get(role) ?? `no ${role} series selected` };
          st!.volumes.set(role, v);
        }
        return v;
      };
      let v = await volumeOf(m.role);
      if (opts.localiser && m.task !== 'localiser' && v.volume && v.gt) {
        const locRole = localiserRole(opts.localiser);
        const lv = await volumeOf(locRole);
        if (!lv.volume) {
          skip(`no ${locRole} series for the localiser`);
          continue;
        }
        st.localisation ??= await localise(opts.localiser, lv.volume, createPreparer({ pool: opts.pool }), 16);
        v = { ...v, gt: localisedRegions(st.localisation, v.volume, v.gt) };
      }
      if (!v.volume || !v.gt) {
        skip(v.reason!);
        continue;
      }
      let clinical: number[] = [];
      if (m.clinical) {
        const enc = encodeClinical(cohortCovariates(entry), m.clinical.encoding);
        if (!enc.ok) {
          skip(`clinical vector: missing ${enc.missing.join(', ')} ${enc.unencodable.join('; ')}`);
          continue;
        }
        clinical = enc.vector;
      }
      const chosen = chooseSlices(m, v.gt);
      if (!chosen.length) {
        skip('no slice with the selection region');
        continue;
      }
      const inputs = await exportModelInputs(v.volume, v.gt.regions, m.preparation, { pool: opts.pool, sliceIndices: chosen.map((c) => c.index) });
      const label = m.label ? trainingLabel(entry, m.label) : null;
      inputs.tensors.forEach((t, k) => {
        const index = inputs.sliceIndices[k]!;
        const slice = v!.volume!.slices[index]!;
        const row: ExportRow = {
          patientId: entry.PatientID,
          label,
          weight: chosen.find((c) => c.index === index)!.areaPx,
          clinical,
          sliceIndex: index,
          sopInstanceUid: slice.image.sopInstanceUid,
          servingSlice: chosen.find((c) => c.index === index)!.serving,
        };
        w.add(t, row, m.task === 'localiser' ? labelsOnGrid(v!.gt!.labels[index], slice, t) : undefined);
      });
    }
  }
  const cohort = { dir: path.resolve(opts.cohortDir), seed: cohortInfo.seed, patients: patients.length };
  return { models: writers.map((w) => w.finish(cohort, opts.localiser ? 'localiser' : 'ground-truth')) };
}
