/**
 * Series to volume: decode every stored instance in the worker pool, then assemble the frames into slices
 * sorted along the slice normal (the cross product of the orientation cosines; never by InstanceNumber).
 *
 * Choices, stated:
 * - Frames whose orientation differs from the series' most common one by more than 1 degree are dropped
 *   (with a warning); so are frames without ImagePositionPatient/ImageOrientationPatient.
 * - Frames at the same position (within 0.01 mm) keep only the first by InstanceNumber/frame: repeated
 *   acquisitions or echoes are not stacked.
 * - Mixed matrix sizes: by default each slice keeps its own size and pixel spacing (the 2-D preparation
 *   steps work per slice, and a resize/resample step makes model inputs uniform); with
 *   `matrix: 'most-common'` other slices are resampled bilinearly to the most common size over their own
 *   field of view (their pixel spacing changes accordingly).
 * - sliceSpacing is the median distance between adjacent slice positions along the normal; for a single
 *   slice, SpacingBetweenSlices or else SliceThickness.
 */
import type { StoredInstance } from '../store/instance-types';
import type { ImageRef } from '../core/image-ref';
import type { Slice, Volume } from './volume-types';
import { WorkerPool } from './decode-pool';
import { UnusableImageError, type DecodedFrame, type DecodedInstance } from './read-frames';
import { resizeBilinear } from './steps/bilinear';
import { cross, dot, normalize, type Vec3 } from '../select/orientation';
import { mostCommon } from '../util/most-common';
import { errorMessage } from '../util/error-message';

export interface BuildVolumeOptions {
  /** The node's preparation pool; when absent a temporary one is made and closed. */
  pool?: WorkerPool;
  matrix?: 'keep' | 'most-common';
}

interface FrameRef {
  frame: DecodedFrame;
  instance: DecodedInstance;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}


/** Assemble decoded instances of one series into a volume (pure; see the module comment for choices). */
export function assembleVolume(instances: DecodedInstance[], role: string, options: Pick<BuildVolumeOptions, 'matrix'> = {}): Volume {
  if (instances.length === 0) throw new UnusableImageError('the series has no images');
  const seriesUids = [...new Set(instances.map((i) => i.seriesInstanceUid))];
  if (seriesUids.length > 1) throw new UnusableImageError(`instances from ${seriesUids.length} series given for one volume`);
  const warnings: string[] = [];
  const all: FrameRef[] = instances.flatMap((instance) => instance.frames.map((frame) => ({ frame, instance })));

  const located = all.filter((f) => f.frame.position && f.frame.orientation && f.frame.pixelSpacing);
  if (located.length === 0) throw new UnusableImageError('no image has ImagePositionPatient, ImageOrientationPatient and PixelSpacing');
  if (located.length < all.length) warnings.push(`${all.length - located.length} image(s) without position, orientation or pixel spacing were left out`);

  const orientation = mostCommon(located, (f) => f.frame.orientation!.map((v) => v.toFixed(3)).join('/'))!.frame.orientation!;
  const row = normalize([orientation[0], orientation[1], orientation[2]]);
  const col = normalize([orientation[3], orientation[4], orientation[5]]);
  if (!row || !col) throw new UnusableImageError(`ImageOrientationPatient ${orientation.join('\\')} is not usable`);
  const normal = normalize(cross(row, col));
  if (!normal) throw new UnusableImageError(`ImageOrientationPatient ${orientation.join('\\')} has parallel row and column directions`);
  const cosTol = Math.cos((1 * Math.PI) / 180);
  const aligned = located.filter((f) => {
    const o = f.frame.orientation!;
    const r = normalize([o[0], o[1], o[2]]);
    const c = normalize([o[3], o[4], o[5]]);
    return !!r && !!c && dot(r, row) >= cosTol && dot(c, col) >= cosTol;
  });
  if (aligned.length < located.length) warnings.push(`${located.length - aligned.length} image(s) with a different orientation were left out`);

  const withLocation = aligned.map((f) => ({ ...f, location: dot(f.frame.position as Vec3, normal) }));
  withLocation.sort(
    (a, b) =>
      a.location - b.location ||
      (a.instance.instanceNumber ?? 0) - (b.instance.instanceNumber ?? 0) ||
      (a.frame.frameNumber ?? 0) - (b.frame.frameNumber ?? 0) ||
      (a.instance.sopInstanceUid < b.instance.sopInstanceUid ? -1 : a.instance.sopInstanceUid > b.instance.sopInstanceUid ? 1 : 0),
  );
  const unique: typeof withLocation = [];
  let duplicates = 0;
  for (const f of withLocation) {
    const last = unique[unique.length - 1];
    if (last && Math.abs(f.location - last.location) < 0.01) {
      duplicates++;
      continue;
    }
    unique.push(f);
  }
  if (duplicates > 0) warnings.push(`${duplicates} image(s) at an already occupied slice position were left out (repeated acquisition or several echoes?)`);

  const sizes = new Set(unique.map((f) => `${f.frame.rows}x${f.frame.columns}`));
  const modal = mostCommon(unique, (f) => `${f.frame.rows}x${f.frame.columns}`)!.frame;
  if (sizes.size > 1) {
    warnings.push(
      options.matrix === 'most-common'
        ? `mixed matrix sizes (${[...sizes].join(', ')}): resampled to ${modal.rows}x${modal.columns}`
        : `mixed matrix sizes (${[...sizes].join(', ')}): slices keep their own size`,
    );
  }

  const slices: Slice[] = unique.map(({ frame, instance, location }) => {
    let pixels = frame.pixels;
    let rows = frame.rows;
    let columns = frame.columns;
    let pixelSpacing: [number, number] = [frame.pixelSpacing![0], frame.pixelSpacing![1]];
    if (options.matrix === 'most-common' && (rows !== modal.rows || columns !== modal.columns)) {
      pixels = resizeBilinear(pixels, rows, columns, modal.rows, modal.columns);
      pixelSpacing = [(pixelSpacing[0] * rows) / modal.rows, (pixelSpacing[1] * columns) / modal.columns];
      rows = modal.rows;
      columns = modal.columns;
    }
    const image: ImageRef = {
      studyInstanceUid: instance.studyInstanceUid,
      seriesInstanceUid: instance.seriesInstanceUid,
      sopInstanceUid: instance.sopInstanceUid,
      sopClassUid: instance.sopClassUid,
    };
    if (frame.frameNumber !== undefined) image.frameNumber = frame.frameNumber;
    return { pixels, rows, columns, pixelSpacing, position: [...frame.position!] as [number, number, number], location, image };
  });

  const gaps = slices.slice(1).map((s, i) => s.location - slices[i]!.location);
  const first = unique[0]!;
  const sliceSpacing = gaps.length > 0 ? median(gaps) : first.instance.spacingBetweenSlices ?? first.frame.sliceThickness ?? 0;
  const volume: Volume = {
    seriesInstanceUid: seriesUids[0]!,
    role,
    orientation: [...orientation] as Volume['orientation'],
    normal,
    sliceSpacing,
    slices,
  };
  const description = instances.find((i) => i.seriesDescription)?.seriesDescription;
  if (description !== undefined) volume.seriesDescription = description;
  if (warnings.length > 0) volume.warnings = warnings;
  return volume;
}

/** Decode the instances (paths or stored instances) in the pool and assemble them into a volume. */
export async function buildVolume(inputs: (string | StoredInstance)[], role: string, options: BuildVolumeOptions = {}): Promise<Volume> {
  const pool = options.pool ?? new WorkerPool();
  try {
    const paths = inputs.map((i) => (typeof i === 'string' ? i : i.path));
    const decoded = await Promise.all(paths.map((p) => pool.decode(p)));
    return assembleVolume(decoded, role, options);
  } finally {
    if (!options.pool) await pool.close();
  }
}

/** buildVolume for analyses: an unusable series is a reason ("not assessable"), never a thrown error. */
export async function tryBuildVolume(
  inputs: (string | StoredInstance)[],
  role: string,
  options: BuildVolumeOptions = {},
): Promise<{ ok: true; volume: Volume } | { ok: false; reason: string }> {
  try {
    return { ok: true, volume: await buildVolume(inputs, role, options) };
  } catch (e) {
    return { ok: false, reason: `the ${role} series could not be read: ${errorMessage(e)}` };
  }
}
