/**
 * One study of a cohort folder read the way the node reads a received study: every Part 10 file's header
 * through the store's validation (the same InstanceHeader the index keeps), the node's rule-based series
 * selection, volumes built by src/prepare (worker pool), and the ground-truth regions from the cohort's
 * masks (masks/<SeriesInstanceUID>.json + .bin, matched to slices by SOPInstanceUID).
 */
import fs from 'node:fs';
import path from 'node:path';
import { instancesFromFiles, listDicomFiles } from '../pipeline/instances-from-files';
import { groupBySeries } from '../pipeline/study-volumes';
import type { SelectionRule } from '../config/schema';
import { selectSeries, type SelectionResult, type SeriesInput } from '../select';
import { buildVolume, type WorkerPool } from '../prepare';
import type { SliceRegions } from '../prepare/regions';
import type { PixelBox } from '../core/pixel-box';
import type { Volume } from '../prepare/volume-types';
import type { MaskInfo } from '../synth/cohort';

export interface StudyFiles {
  series: (SeriesInput & { paths: string[] })[];
  /** Files that are not acceptable instances (with the reason). */
  refused: { path: string; reason: string }[];
}

/** The Part 10 files of a cohort study folder (its masks/ folder left out), sorted. */
export async function cohortStudyFiles(studyDir: string): Promise<string[]> {
  return (await listDicomFiles(studyDir)).filter((f) => !path.relative(studyDir, f).split(path.sep).includes('masks'));
}

/** Reads every instance header of a study folder with the store's header reader, grouped by series. */
export async function readStudyFiles(studyDir: string, acceptedTransferSyntaxes: ReadonlySet<string>): Promise<StudyFiles> {
  const { instances, rejected } = await instancesFromFiles(await cohortStudyFiles(studyDir), { acceptedTransferSyntaxes });
  const series = [...groupBySeries(instances)].map(([seriesInstanceUid, list]) => ({ seriesInstanceUid, headers: list.map((i) => i.header), paths: list.map((i) => i.path) }));
  return { series, refused: rejected };
}

export interface SelectedStudy {
  selection: SelectionResult;
  files: StudyFiles;
}

export async function selectStudy(studyDir: string, rules: SelectionRule[], acceptedTransferSyntaxes: ReadonlySet<string>): Promise<SelectedStudy> {
  const files = await readStudyFiles(studyDir, acceptedTransferSyntaxes);
  return { files, selection: selectSeries(files.series, rules) };
}

/** Builds the volume of a selected role (undefined when no series fills it). */
export async function buildRoleVolume(study: SelectedStudy, role: string, pool: WorkerPool): Promise<Volume | undefined> {
  const sel = study.selection.selected.get(role);
  if (!sel) return undefined;
  const s = study.files.series.find((x) => x.seriesInstanceUid === sel.seriesInstanceUid)!;
  return buildVolume(s.paths, role, { pool });
}

/** Per slice of a volume: the ground-truth label map (0 background, 1 GTV, 2 GTVln) or undefined. */
export interface GroundTruth {
  labels: (Uint8Array | undefined)[];
  regions: (SliceRegions | undefined)[];
  gtvAreaPx: number[];
  gtvlnAreaPx: number[];
}

function regionOf(labels: Uint8Array, value: number, rows: number, columns: number): { shape?: SliceRegions['gtv']; area: number } {
  let x0 = columns;
  let y0 = rows;
  let x1 = -1;
  let y1 = -1;
  let area = 0;
  const data = new Uint8Array(rows * columns);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      if (labels[y * columns + x] !== value) continue;
      data[y * columns + x] = 1;
      area++;
      if (x < x0) x0 = x;
      if (y < y0) y0 = y;
      if (x > x1) x1 = x;
      if (y > y1) y1 = y;
    }
  }
  if (!area) return { area };
  // Edge coordinates: x1/y1 exclusive (src/prepare/regions.ts).
  const box: PixelBox = { x0, y0, x1: x1 + 1, y1: y1 + 1 };
  return { shape: { box, mask: { rows, columns, data } }, area };
}

/** Ground truth of `volume` from the study's masks folder; slices without a mask entry get none. */
export function groundTruth(studyDir: string, volume: Volume): GroundTruth {
  const infoFile = path.join(studyDir, 'masks', `${volume.seriesInstanceUid}.json`);
  const n = volume.slices.length;
  const gt: GroundTruth = { labels: new Array(n).fill(undefined), regions: new Array(n).fill(undefined), gtvAreaPx: new Array(n).fill(0), gtvlnAreaPx: new Array(n).fill(0) };
  if (!fs.existsSync(infoFile)) return gt;
  const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as MaskInfo;
  const voxels = fs.readFileSync(path.join(studyDir, 'masks', info.file));
  const plane = info.rows * info.columns;
  const bySop = new Map(info.slices.map((s, i) => [s.SOPInstanceUID, i]));
  volume.slices.forEach((slice, k) => {
    const i = bySop.get(slice.image.sopInstanceUid);
    if (i === undefined || slice.rows !== info.rows || slice.columns !== info.columns) return;
    const labels = new Uint8Array(voxels.subarray(i * plane, (i + 1) * plane));
    gt.labels[k] = labels;
    const gtv = regionOf(labels, 1, info.rows, info.columns);
    const gtvln = regionOf(labels, 2, info.rows, info.columns);
    gt.gtvAreaPx[k] = gtv.area;
    gt.gtvlnAreaPx[k] = gtvln.area;
    if (gtv.shape || gtvln.shape) gt.regions[k] = { ...(gtv.shape ? { gtv: gtv.shape } : {}), ...(gtvln.shape ? { gtvln: gtvln.shape } : {}) };
  });
  return gt;
}
