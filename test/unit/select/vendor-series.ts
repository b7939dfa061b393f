/** Realistic vendor series (description + tags) for selection tests. */
import type { InstanceHeader } from '../../../src/store/instance-types';

export const AX = [1, 0, 0, 0, 1, 0];
export const SAG = [0, 1, 0, 0, 0, -1];
export const COR = [1, 0, 0, 0, 0, -1];
export function tilted(degrees: number): number[] {
  const r = (degrees * Math.PI) / 180;
  return [1, 0, 0, 0, Math.cos(r), -Math.sin(r)];
}

export interface SeriesSpec {
  description: string;
  manufacturer?: 'GE MEDICAL SYSTEMS' | 'SIEMENS' | 'Philips Medical Systems' | 'Philips';
  iop?: number[];
  tr?: number;
  te?: number;
  ss?: string;
  sv?: string;
  imageType?: string;
  agent?: string;
  images?: number;
  seriesNumber?: number;
  /** Extra header attributes. */
  extra?: Partial<InstanceHeader>;
}

let counter = 0;

/** Headers of one series: `images` instances stacked along the normal. */
export function makeSeries(spec: SeriesSpec, uid = `1.2.826.0.1.3680043.2.1143.${++counter}`): { seriesInstanceUid: string; headers: InstanceHeader[] } {
  const iop = spec.iop ?? AX;
  const headers: InstanceHeader[] = [];
  for (let i = 0; i < (spec.images ?? 20); i++) {
    headers.push({
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
      SOPInstanceUID: `${uid}.${i + 1}`,
      StudyInstanceUID: '1.2.826.0.1.3680043.2.1143.999',
      SeriesInstanceUID: uid,
      Modality: 'MR',
      Manufacturer: spec.manufacturer ?? 'SIEMENS',
      SeriesNumber: spec.seriesNumber ?? counter,
      SeriesDescription: spec.description,
      InstanceNumber: i + 1,
      ImageType: (spec.imageType ?? 'ORIGINAL\\PRIMARY\\M\\NORM').split('\\'),
      ScanningSequence: (spec.ss ?? 'SE').split('\\'),
      SequenceVariant: (spec.sv ?? 'SK\\SP').split('\\'),
      RepetitionTime: spec.tr,
      EchoTime: spec.te,
      ContrastBolusAgent: spec.agent,
      ImageOrientationPatient: iop,
      ImagePositionPatient: [-100, -100, i * 5],
      PixelSpacing: [0.5, 0.5],
      Rows: 512,
      Columns: 512,
      ...spec.extra,
    });
  }
  return { seriesInstanceUid: uid, headers };
}
