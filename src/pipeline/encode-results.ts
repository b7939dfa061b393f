/**
 * A study's analysis results as DICOM objects: one Grad-CAM Secondary Capture per key image of every
 * scored analysis, then the TID 1500 SR that links them. UIDs are deterministic per analysis version and
 * generation, so a retry re-sends identical objects and a re-analysis references what it replaces.
 */
import type { AnalysisResult } from '../analyses/types';
import { encodeHeatMapCapture } from '../encode/sc/encode-heat-map-capture';
import { encodeStructuredReport } from '../encode/sr/encode-structured-report';
import type { DeviceIdentity, EncodedObject, ObjectRef, ScSopClassSetting, SourceInstance, SrSopClassSetting } from '../encode/types';
import type { Slice, Volume } from '../prepare/volume-types';
import type { InstanceHeader, StoredInstance } from '../store/instance-types';

export interface EncodedOutput extends EncodedObject {
  kind: 'sr' | 'sc';
  analysis?: string;
}

export interface EncodeResultsInput {
  studyHeader: InstanceHeader;
  results: AnalysisResult[];
  volumes: Record<string, Volume>;
  instances: StoredInstance[];
  generation: number;
  /** Objects of the previous generation (SR and SCs) that these replace. */
  predecessors?: ObjectRef[];
  device: DeviceIdentity;
  srSopClass: SrSopClassSetting;
  scSopClass: ScSopClassSetting;
  contentDateTime: Date;
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
  const predecessorsOf = (kind: 'sr' | 'sc') => (input.predecessors ?? []).filter((p) => (kind === 'sr' ? /\.88\./.test(p.sopClassUid) : !/\.88\./.test(p.sopClassUid)));
  const outputs: EncodedOutput[] = [];
  for (const result of input.results) {
    if (!result.assessable) continue;
    for (const keyImage of result.keyImages) {
      const slice = findSlice(input.volumes, keyImage.image.sopInstanceUid, keyImage.image.frameNumber);
      if (!slice) continue;
      const sourceHeader = headers.get(keyImage.image.sopInstanceUid);
      const sc = await encodeHeatMapCapture({
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
      });
      outputs.push({ ...sc, kind: 'sc', analysis: result.analysis });
    }
  }
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
  const sr = encodeStructuredReport({
    study: input.studyHeader,
    results: input.results,
    sourceInstances: [...referenced.values()],
    generation: input.generation,
    predecessors: predecessorsOf('sr'),
    device: input.device,
    srSopClass: input.srSopClass,
    heatMaps: outputs.map((o) => ({ sopInstanceUid: o.sopInstanceUid, seriesInstanceUid: o.seriesInstanceUid, sopClassUid: o.sopClassUid, analysis: o.analysis! })),
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
