/**
 * A study's analysis results as DICOM objects: one Grad-CAM Secondary Capture per key image of every
 * scored analysis, the localiser's SEG (GTV, GTVln) when the study was localised, then the TID 1500 SR that
 * links them (its groups reference the SEG's GTV segment). UIDs are deterministic per analysis version and
 * generation, so a retry re-sends identical objects and a re-analysis references what it replaces.
 */
import type { LocalisationResult } from '../analyses/localisation';
import type { AnalysisResult } from '../analyses/types';
import { encodeHeatMapCapture } from '../encode/sc/encode-heat-map-capture';
import { encodeSegmentation, segmentationSourceOf, type EncodedSegmentation } from '../encode/seg/encode-segmentation';
import { encodeStructuredReport } from '../encode/sr/encode-structured-report';
import { EncodeInputError, type DeviceIdentity, type EncodedObject, type ObjectRef, type ScSopClassSetting, type SourceInstance, type SrSopClassSetting } from '../encode/types';
import type { Logger } from '../logging/logger';
import type { Slice, Volume } from '../prepare/volume-types';
import type { InstanceHeader, StoredInstance } from '../store/instance-types';

export interface EncodedOutput extends EncodedObject {
  kind: 'sr' | 'sc' | 'seg';
  analysis?: string;
}

export interface EncodeResultsInput {
  studyHeader: InstanceHeader;
  results: AnalysisResult[];
  /** The localiser's output (its CE-T1 volume and masks): encoded as a SEG when present. */
  localisation?: LocalisationResult;
  volumes: Record<string, Volume>;
  instances: StoredInstance[];
  generation: number;
  /** Objects of the previous generation (SR and SCs) that these replace. */
  predecessors?: ObjectRef[];
  device: DeviceIdentity;
  srSopClass: SrSopClassSetting;
  scSopClass: ScSopClassSetting;
  contentDateTime: Date;
  /** Told when the SEG cannot be encoded (the SR and heat maps go out without it). */
  logger?: Logger;
}

const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';
/** Which earlier objects a new one of a kind replaces: SR (88.x) -> SR, SEG -> nothing it can name, SC -> SC. */
function isKind(kind: 'sr' | 'sc', sopClassUid: string): boolean {
  if (sopClassUid === SEGMENTATION_STORAGE) return false;
  return kind === 'sr' ? /\.88\./.test(sopClassUid) : !/\.88\./.test(sopClassUid);
}

/** The localiser's SEG, or undefined (with a warning) when there is none to write. */
function encodeLocalisationSeg(input: EncodeResultsInput, headers: Map<string, StoredInstance['header']>): EncodedSegmentation | undefined {
  const loc = input.localisation;
  const first = loc?.volume.slices[0];
  if (!loc || !first) return undefined;
  const sourceHeader = headers.get(first.image.sopInstanceUid);
  if (!sourceHeader) {
    input.logger?.warn('SEG not written: no stored header for the localised series', { sopInstanceUid: first.image.sopInstanceUid });
    return undefined;
  }
  try {
    return encodeSegmentation({
      study: input.studyHeader,
      localisation: segmentationSourceOf(loc),
      sourceHeader,
      generation: input.generation,
      device: input.device,
      contentDateTime: input.contentDateTime,
    });
  } catch (e) {
    if (!(e instanceof EncodeInputError)) throw e;
    input.logger?.warn('SEG not written', { error: e.message });
    return undefined;
  }
}

function findSlice(volumes: Record<string, Volume>, sopInstanceUid: string, frameNumber?: number): Slice | undefined {
  for (const v of Object.values(volumes)) {
    const s = v.slices.find((x) => x.image.sopInstanceUid === sopInstanceUid && (frameNumber === undefined || x.image.frameNumber === frameNumber));
    if (s) return s;
  }
  return undefined;
}

export async function encodeResults(input: EncodeResultsInput): Promise<EncodedOutput[]> {
  const headers = new Map(input.instances.map((i) => [i.sopInstanceUid, i.header] as const));
  const predecessorsOf = (kind: 'sr' | 'sc') => (input.predecessors ?? []).filter((p) => isKind(kind, p.sopClassUid));
  // Every heat map is started before any is awaited: each draws its page on this thread, then sharp composites
  // the text in its thread pool while the next page is drawn. Any failure fails the encoding, as before.
  const heatMaps: Promise<EncodedOutput>[] = [];
  for (const result of input.results) {
    if (!result.assessable) continue;
    for (const keyImage of result.keyImages) {
      const slice = findSlice(input.volumes, keyImage.image.sopInstanceUid, keyImage.image.frameNumber);
      if (!slice) continue;
      const sourceHeader = headers.get(keyImage.image.sopInstanceUid);
      heatMaps.push(
        encodeHeatMapCapture({
          study: input.studyHeader,
          result,
          keyImage,
          slice,
          generation: input.generation,
          predecessors: predecessorsOf('sc'),
          device: input.device,
          scSopClass: input.scSopClass,
          ...(sourceHeader ? { sourceHeader } : {}),
          contentDateTime: input.contentDateTime,
        }).then((sc) => ({ ...sc, kind: 'sc' as const, analysis: result.analysis })),
      );
    }
  }
  const outputs: EncodedOutput[] = await Promise.all(heatMaps);
  const referenced = new Map<string, SourceInstance>();
  for (const r of input.results) {
    if (!r.assessable) continue;
    for (const img of [...r.inputs.images, ...r.keyImages.map((k) => k.image)]) {
      const key = `${img.sopInstanceUid}/${img.frameNumber ?? ''}`;
      if (!referenced.has(key)) {
        const header = headers.get(img.sopInstanceUid);
        referenced.set(key, { image: img, ...(header ? { header } : {}) });
      }
    }
  }
  const seg = encodeLocalisationSeg(input, headers);
  if (seg) outputs.push({ buffer: seg.buffer, sopInstanceUid: seg.sopInstanceUid, seriesInstanceUid: seg.seriesInstanceUid, sopClassUid: seg.sopClassUid, kind: 'seg' });
  const sr = encodeStructuredReport({
    study: input.studyHeader,
    results: input.results,
    sourceInstances: [...referenced.values()],
    generation: input.generation,
    predecessors: predecessorsOf('sr'),
    device: input.device,
    srSopClass: input.srSopClass,
    ...(seg && input.localisation
      ? {
          segmentation: {
            sopClassUid: seg.sopClassUid,
            sopInstanceUid: seg.sopInstanceUid,
            seriesInstanceUid: seg.seriesInstanceUid,
            sourceSeriesInstanceUid: input.localisation.volume.slices[0]!.image.seriesInstanceUid,
            segments: seg.segments.map((x) => ({ segmentNumber: x.segmentNumber, region: x.region })),
          },
        }
      : {}),
    heatMaps: outputs.filter((o) => o.kind === 'sc').map((o) => ({ sopInstanceUid: o.sopInstanceUid, seriesInstanceUid: o.seriesInstanceUid, sopClassUid: o.sopClassUid, analysis: o.analysis! })),
    contentDateTime: input.contentDateTime,
  });
  outputs.push({ ...sr, kind: 'sr' });
  return outputs;
}

/** A result without its pixel arrays (CAM maps), for the job record and the API. */
export function summariseResult(r: AnalysisResult): unknown {
  if (!r.assessable) return r;
  return {
    ...r,
    keyImages: r.keyImages.map((k) => ({ image: k.image, ...(k.region ? { region: k.region } : {}), ...(k.cam ? { cam: { rows: k.cam.rows, columns: k.cam.columns, method: k.cam.method } } : {}) })),
  };
}
