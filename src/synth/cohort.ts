/**
 * The synthetic NPC cohort: patients as DICOM studies (axial T1, T2, CE-T1 and distractor series), with
 * per-series ground-truth masks for the analysed series and one labels entry per patient.
 * `generatePatient` keeps everything in memory (tests); `writeCohort` streams slice by slice to disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { deterministicUid } from '../dicom/uids';
import { Rng, seedInt } from './rng';
import { Anatomy } from './phantom';
import { paintLesionsRow, type Lesion } from './lesions';
import { axialPlane, coronalPlane, rowLine, sagittalPlane, type Plane } from './geometry';
import { renderImage, type SequenceKind } from './sequences';
import { drawStudyProtocol, ANALYSED_ROLES, type MatrixOption, type SeriesProtocol, type SeriesRole, type StudyProtocol } from './vendor';
import { seriesDataset, writeInstance, type PatientHeader, type StudyHeader } from './dicom-writer';
import { drawPatient, type PatientLabels, type PatientModel } from './patient';
import { MaskLabel } from './tissues';

export type StudyLabel = 'pre' | 'post';

export interface GenerateOptions {
  /** In-plane matrix of the analysed series (default 256). */
  matrix?: MatrixOption;
  /** Also generate a post-treatment study. */
  withFollowup?: boolean;
  /** Prefix of PatientIDs (default SYN). */
  idPrefix?: string;
  /** Leave out the distractor series (localiser, sagittal T2, coronal CE-T1, DWI, ADC). */
  noDistractors?: boolean;
}

export interface SeriesRecord {
  role: SeriesRole;
  SeriesInstanceUID: string;
  SeriesNumber: number;
  SeriesDescription: string;
  /** Folder under the study folder: <SeriesNumber>-<description>. */
  folder: string;
  instanceCount: number;
}

export interface StudyRecord {
  label: StudyLabel;
  StudyInstanceUID: string;
  StudyDate: string;
  vendor: string;
  Manufacturer: string;
  ManufacturerModelName: string;
  MagneticFieldStrength: number;
  matrix: number;
  pixelSpacing: number;
  sliceThickness: number;
  spacingBetweenSlices: number;
  sliceCount: number;
  series: SeriesRecord[];
}

/** One labels.json entry. */
export interface CohortLabelEntry extends PatientLabels {
  StudyInstanceUID: string;
  FollowupStudyInstanceUID?: string;
  studies: StudyRecord[];
}

export interface MaskSliceInfo {
  InstanceNumber: number;
  SOPInstanceUID: string;
  ImagePositionPatient: number[];
}

export interface MaskInfo {
  PatientID: string;
  StudyInstanceUID: string;
  SeriesInstanceUID: string;
  SeriesNumber: number;
  SeriesDescription: string;
  role: SeriesRole;
  rows: number;
  columns: number;
  sliceCount: number;
  dtype: 'uint8';
  labels: Record<string, string>;
  layout: string;
  slices: MaskSliceInfo[];
  file: string;
}

export interface PatientSink {
  instance(study: StudyRecord, series: SeriesRecord, instanceNumber: number, sopInstanceUid: string, bytes: Buffer): void;
  mask(study: StudyRecord, series: SeriesRecord, info: MaskInfo, voxels: Buffer): void;
}

export interface GeneratedSeries {
  studyLabel: StudyLabel;
  headerInfo: SeriesRecord & { StudyInstanceUID: string };
  instances: Buffer[];
  mask?: { info: MaskInfo; voxels: Buffer };
}

export interface GeneratedPatient {
  series: GeneratedSeries[];
  labels: CohortLabelEntry;
  model: PatientModel;
}

/** Generate one patient in memory. Deterministic in (seed, index, options). */
export function generatePatient(seed: string | number, options: GenerateOptions & { index?: number } = {}): GeneratedPatient {
  const model = drawPatient({ seed, index: options.index ?? 0, idPrefix: options.idPrefix });
  const byUid = new Map<string, GeneratedSeries>();
  const series: GeneratedSeries[] = [];
  const labels = renderPatient(model, options, {
    instance(study, s, _n, _uid, bytes) {
      let g = byUid.get(s.SeriesInstanceUID);
      if (!g) {
        g = { studyLabel: study.label, headerInfo: { ...s, StudyInstanceUID: study.StudyInstanceUID }, instances: [] };
        byUid.set(s.SeriesInstanceUID, g);
        series.push(g);
      }
      g.instances.push(bytes);
    },
    mask(_study, s, info, voxels) {
      const g = byUid.get(s.SeriesInstanceUID);
      if (g) g.mask = { info, voxels };
    },
  });
  for (const g of series) g.headerInfo.instanceCount = g.instances.length;
  return { series, labels, model };
}

export interface CohortOptions extends GenerateOptions {
  patients: number;
  seed: string | number;
  /** Called after each patient (progress reporting). */
  onPatient?: (index: number, entry: CohortLabelEntry) => void;
}

export interface CohortSummary {
  dir: string;
  patients: number;
  instances: number;
  labels: CohortLabelEntry[];
}

/** Write a cohort: DICOM files, masks, labels.json, labels.csv and cohort.json under `dir`. */
export function writeCohort(dir: string, opts: CohortOptions): CohortSummary {
  fs.mkdirSync(dir, { recursive: true });
  const labels: CohortLabelEntry[] = [];
  let instances = 0;
  const made = new Set<string>();
  const ensureDir = (d: string) => {
    if (!made.has(d)) {
      fs.mkdirSync(d, { recursive: true });
      made.add(d);
    }
  };
  for (let i = 0; i < opts.patients; i++) {
    const model = drawPatient({ seed: opts.seed, index: i, idPrefix: opts.idPrefix });
    const entry = renderPatient(model, opts, {
      instance(study, s, n, _uid, bytes) {
        const d = path.join(dir, model.patientId, study.label, s.folder);
        ensureDir(d);
        fs.writeFileSync(path.join(d, `${String(n).padStart(4, '0')}.dcm`), bytes);
        instances++;
      },
      mask(study, _s, info, voxels) {
        const d = path.join(dir, model.patientId, study.label, 'masks');
        ensureDir(d);
        fs.writeFileSync(path.join(d, `${info.SeriesInstanceUID}.json`), JSON.stringify(info, null, 1));
        fs.writeFileSync(path.join(d, info.file), voxels);
      },
    });
    labels.push(entry);
    opts.onPatient?.(i, entry);
  }
  fs.writeFileSync(path.join(dir, 'labels.json'), JSON.stringify(labels, null, 1));
  fs.writeFileSync(path.join(dir, 'labels.csv'), labelsCsv(labels));
  fs.writeFileSync(
    path.join(dir, 'cohort.json'),
    JSON.stringify(
      {
        generator: 'npc-ai-node synthetic cohort',
        rules: 'docs/synthetic-cohort.md',
        seed: opts.seed,
        patients: opts.patients,
        matrix: opts.matrix ?? 256,
        withFollowup: opts.withFollowup ?? false,
        distractors: !opts.noDistractors,
      },
      null,
      1,
    ),
  );
  return { dir, patients: opts.patients, instances, labels };
}

const CSV_COLUMNS: [string, (e: CohortLabelEntry) => unknown][] = [
  ['PatientID', (e) => e.PatientID],
  ['StudyInstanceUID', (e) => e.StudyInstanceUID],
  ['FollowupStudyInstanceUID', (e) => e.FollowupStudyInstanceUID ?? ''],
  ['T', (e) => e.T],
  ['N', (e) => e.N],
  ['stage', (e) => e.stage],
  ['dmfs_time_months', (e) => e.dmfs.timeMonths],
  ['dmfs_event', (e) => e.dmfs.event],
  ['dmfs_risk_score', (e) => e.dmfs.riskScore],
  ['dmfs_high_risk', (e) => (e.dmfs.highRisk ? 1 : 0)],
  ['msom_event', (e) => e.msom.event],
  ['msom_risk_score', (e) => e.msom.riskScore],
  ['msom_high_risk', (e) => (e.msom.highRisk ? 1 : 0)],
  ['residual_ccrt', (e) => e.residual.ccrt],
  ['residual_ic_ccrt', (e) => e.residual.icCcrt],
  ['progression_high_risk', (e) => (e.progression.highRisk ? 1 : 0)],
  ['progression_risk_score', (e) => e.progression.riskScore],
  ['n_stage', (e) => e.clinical.nStage],
  ['ebv_dna', (e) => e.clinical.ebvDna],
  ['treatment', (e) => e.clinical.treatment],
  ['age', (e) => e.clinical.age],
  ['sex', (e) => e.clinical.sex],
  ['clinical_stage', (e) => e.clinical.clinicalStage],
  ['pni', (e) => e.clinical.pni],
  ['haemoglobin', (e) => e.clinical.haemoglobin],
  ['dose', (e) => e.clinical.dose],
  ['cisplatin', (e) => e.clinical.cisplatin],
  ['cycles', (e) => e.clinical.cycles],
  ['tumour_volume_ml', (e) => e.imageFeatures.tumourVolumeMl],
  ['nodal_volume_ml', (e) => e.imageFeatures.nodalVolumeMl],
  ['heterogeneity', (e) => e.imageFeatures.heterogeneity],
  ['enhancement', (e) => e.imageFeatures.enhancement],
  ['vendor', (e) => e.studies[0]?.vendor ?? ''],
  ['field_strength', (e) => e.studies[0]?.MagneticFieldStrength ?? ''],
  ['matrix', (e) => e.studies[0]?.matrix ?? ''],
];

export function labelsCsv(labels: readonly CohortLabelEntry[]): string {
  const esc = (v: unknown) => {
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [CSV_COLUMNS.map(([h]) => h).join(',')];
  for (const e of labels) lines.push(CSV_COLUMNS.map(([, f]) => esc(f(e))).join(','));
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------

function addDays(date: string, days: number): string {
  const d = new Date(Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8)));
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

function timeAfter(hhmmss: string, seconds: number): string {
  const t = +hhmmss.slice(0, 2) * 3600 + +hhmmss.slice(2, 4) * 60 + +hhmmss.slice(4, 6) + seconds;
  const h = Math.floor(t / 3600) % 24;
  const m = Math.floor(t / 60) % 60;
  const s = Math.floor(t) % 60;
  return `${String(h).padStart(2, '0')}${String(m).padStart(2, '0')}${String(s).padStart(2, '0')}`;
}

function folderName(p: SeriesProtocol): string {
  const clean = p.description.replace(/[^A-Za-z0-9+_-]+/g, '_').replace(/^_+|_+$/g, '');
  return `${p.seriesNumber}-${clean || 'series'}`;
}

/** Tissue and mask label maps of one plane. */
function labelPlane(anatomy: Anatomy, lesions: readonly Lesion[], plane: Plane, tissue: Uint8Array, mask: Uint8Array): void {
  const { rows, columns } = plane;
  for (let r = 0; r < rows; r++) {
    const line = rowLine(plane, r);
    const t = tissue.subarray(r * columns, (r + 1) * columns);
    const m = mask.subarray(r * columns, (r + 1) * columns);
    anatomy.paintRow(line, t);
    paintLesionsRow(line, lesions, t, m);
  }
}

interface Stack {
  planes: Plane[];
  tissue: Uint8Array[];
  mask: Uint8Array[];
}

function buildStack(anatomy: Anatomy, lesions: readonly Lesion[], planes: Plane[]): Stack {
  const tissue: Uint8Array[] = [];
  const mask: Uint8Array[] = [];
  for (const p of planes) {
    const t = new Uint8Array(p.rows * p.columns);
    const m = new Uint8Array(p.rows * p.columns);
    labelPlane(anatomy, lesions, p, t, m);
    tissue.push(t);
    mask.push(m);
  }
  return { planes, tissue, mask };
}

/** The acquisition protocol of a patient's pre-treatment study (the one renderPatient uses). */
export function preStudyProtocol(seed: string | number, index: number, matrix: MatrixOption = 256): StudyProtocol {
  return drawStudyProtocol(new Rng(`${String(seed)}#${index}`).fork('protocol').fork('pre'), { matrix });
}

/** Render every study of a patient into `sink`; returns the labels entry. */
export function renderPatient(model: PatientModel, opts: GenerateOptions, sink: PatientSink): CohortLabelEntry {
  const studies: StudyRecord[] = [];
  const rng = new Rng(model.seed).fork('protocol');
  const pre = drawStudyProtocol(rng.fork('pre'), { matrix: opts.matrix ?? 256 });
  const year = 2016 + (model.index % 8);
  const preDate = addDays(`${year}0101`, new Rng(model.seed).fork('date').int(0, 330));
  studies.push(renderStudy(model, 'pre', pre, preDate, model.lesions, opts, sink));
  if (opts.withFollowup) {
    const post = drawStudyProtocol(rng.fork('post'), { matrix: opts.matrix ?? 256, vendor: pre.vendor, fieldStrength: pre.fieldStrength });
    studies.push(renderStudy(model, 'post', post, addDays(preDate, model.followupDays), model.followupLesions, opts, sink));
  }
  return {
    ...model.labels,
    StudyInstanceUID: studies[0]!.StudyInstanceUID,
    ...(studies[1] ? { FollowupStudyInstanceUID: studies[1].StudyInstanceUID } : {}),
    studies,
  };
}

function renderStudy(
  model: PatientModel,
  label: StudyLabel,
  proto: StudyProtocol,
  studyDate: string,
  lesions: readonly Lesion[],
  opts: GenerateOptions,
  sink: PatientSink,
): StudyRecord {
  const uid = (name: string) => deterministicUid(`npc-synth/${model.seed}/${label}/${name}`);
  const rng = new Rng(model.seed).fork(`study-${label}`);
  const studyTime = `${String(rng.int(8, 17)).padStart(2, '0')}${String(rng.int(0, 59)).padStart(2, '0')}${String(rng.int(0, 59)).padStart(2, '0')}`;
  const patient: PatientHeader = {
    patientId: model.patientId,
    name: model.name,
    birthDate: model.birthDate,
    sex: model.labels.clinical.sex,
    age: model.labels.clinical.age,
  };
  const studyHeader: StudyHeader = {
    studyInstanceUid: uid('study'),
    studyDate,
    studyTime,
    accessionNumber: `A${String(seedInt(`${model.seed}/${label}`) % 100000000).padStart(8, '0')}`,
    studyId: label === 'pre' ? '1' : '2',
    studyDescription: label === 'pre' ? proto.studyDescription : `${proto.studyDescription} POST-TREATMENT`,
    frameOfReferenceUid: uid('frame-of-reference'),
  };
  const g = proto.geometry;
  const record: StudyRecord = {
    label,
    StudyInstanceUID: studyHeader.studyInstanceUid,
    StudyDate: studyDate,
    vendor: proto.vendor,
    Manufacturer: proto.manufacturer,
    ManufacturerModelName: proto.model,
    MagneticFieldStrength: proto.fieldStrength,
    matrix: g.matrix,
    pixelSpacing: g.pixelSpacing,
    sliceThickness: g.sliceThickness,
    spacingBetweenSlices: g.spacingBetweenSlices,
    sliceCount: g.sliceCount,
    series: [],
  };
  const anatomy = new Anatomy(model.anatomy);
  const axialZ = Array.from({ length: g.sliceCount }, (_, k) => Math.round((g.topZ - k * g.spacingBetweenSlices) * 1000) / 1000);
  const main = buildStack(anatomy, lesions, axialZ.map((z) => axialPlane(g.centreX, g.centreY, z, g.matrix, g.matrix, g.pixelSpacing)));
  let dwiStack: Stack | undefined;
  const post = label === 'post';
  let seconds = 30;

  for (const p of proto.series) {
    if (opts.noDistractors && !ANALYSED_ROLES.includes(p.role)) continue;
    let stack: Stack;
    let thickness = g.sliceThickness;
    let spacing: number | undefined = g.spacingBetweenSlices;
    if (p.role === 't1' || p.role === 't2' || p.role === 'ce-t1') {
      stack = main;
    } else if (p.role === 'dwi' || p.role === 'adc') {
      const m = 128;
      dwiStack ??= buildStack(anatomy, lesions, axialZ.map((z) => axialPlane(g.centreX, g.centreY, z, m, m, g.fovMm / m)));
      stack = dwiStack;
    } else if (p.role === 'localizer') {
      stack = buildStack(anatomy, lesions, [
        axialPlane(0, 5, -5, 256, 256, 1.1),
        sagittalPlane(0, 5, -20, 256, 1.1),
        coronalPlane(10, 0, -20, 256, 1.1),
      ]);
      thickness = 8;
      spacing = undefined;
    } else if (p.role === 'sag-t2') {
      const xs = Array.from({ length: 13 }, (_, k) => -30 + 5 * k);
      stack = buildStack(anatomy, lesions, xs.map((x) => sagittalPlane(x, 5, -25, 256, 1)));
      thickness = 4;
      spacing = 5;
    } else {
      const ys = Array.from({ length: 14 }, (_, k) => -25 + 5 * k);
      stack = buildStack(anatomy, lesions, ys.map((y) => coronalPlane(y, 0, -25, 256, 1)));
      thickness = 4;
      spacing = 5;
    }
    const order = stack.planes.map((_, k) => k);
    // Stacks are built top-down (or left-to-right / front-to-back); 'ascending' reverses them.
    if (p.sliceOrder === 'ascending') order.reverse();
    const seriesUid = uid(`series-${p.seriesNumber}`);
    const sr: SeriesRecord = {
      role: p.role,
      SeriesInstanceUID: seriesUid,
      SeriesNumber: p.seriesNumber,
      SeriesDescription: p.description,
      folder: folderName(p),
      instanceCount: order.length,
    };
    record.series.push(sr);
    const seriesTime = timeAfter(studyTime, seconds);
    const header = seriesDataset(patient, studyHeader, { seriesInstanceUid: seriesUid, protocol: p, seriesTime }, proto);
    const adc = p.kind === 'adc';
    const scale = adc ? 1000 : p.kind === 'dwi' ? proto.intensityScale * 0.6 : proto.intensityScale;
    const maxStored = 2 ** proto.bitsStored - 1;
    const slope = proto.rescale && !adc ? proto.rescale.slope : 1;
    const windowing = adc ? { center: 1400, width: 2800 } : { center: scale * 0.45 * slope, width: scale * 0.9 * slope };
    const isMain = ANALYSED_ROLES.includes(p.role);
    const maskSlices: MaskSliceInfo[] = [];
    const maskBuf = isMain ? Buffer.alloc(order.length * g.matrix * g.matrix) : undefined;
    order.forEach((k, i) => {
      const plane = stack.planes[k]!;
      const instanceNumber = i + 1;
      const sopUid = uid(`series-${p.seriesNumber}/instance-${instanceNumber}`);
      const pixels = renderImage(plane, stack.tissue[k]!, {
        kind: p.kind as SequenceKind,
        fieldStrength: proto.fieldStrength,
        appearance: model.appearance,
        scale: adc ? 1000 / 1 : scale,
        maxStored,
        noise: adc ? 0.04 : p.kind === 'dwi' ? proto.noise * 2 : proto.noise,
        noiseSeed: seedInt(`${model.seed}/${label}/${p.seriesNumber}/${k}`),
        postTreatment: post,
      });
      const bytes = writeInstance(
        header,
        {
          sopInstanceUid: sopUid,
          instanceNumber,
          plane,
          sliceThickness: thickness,
          spacingBetweenSlices: spacing,
          acquisitionTime: timeAfter(studyTime, seconds + i * 4),
        },
        pixels,
        windowing,
      );
      sink.instance(record, sr, instanceNumber, sopUid, bytes);
      if (maskBuf) {
        maskBuf.set(stack.mask[k]!, i * g.matrix * g.matrix);
        maskSlices.push({ InstanceNumber: instanceNumber, SOPInstanceUID: sopUid, ImagePositionPatient: plane.origin.map((v) => Math.round(v * 10000) / 10000) });
      }
    });
    seconds += 180;
    if (maskBuf) {
      const info: MaskInfo = {
        PatientID: model.patientId,
        StudyInstanceUID: studyHeader.studyInstanceUid,
        SeriesInstanceUID: seriesUid,
        SeriesNumber: p.seriesNumber,
        SeriesDescription: p.description,
        role: p.role,
        rows: g.matrix,
        columns: g.matrix,
        sliceCount: order.length,
        dtype: 'uint8',
        labels: { [MaskLabel.Background]: 'background', [MaskLabel.Gtv]: 'GTV', [MaskLabel.Gtvln]: 'GTVln' },
        layout: 'slice-major then row-major; slices in InstanceNumber order (slices[i] is the i-th rows*columns block)',
        slices: maskSlices,
        file: `${seriesUid}.bin`,
      };
      sink.mask(record, sr, info, maskBuf);
    }
  }
  return record;
}
