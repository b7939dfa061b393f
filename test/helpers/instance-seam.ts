/**
 * TEST SEAM until the ingress InstanceStore is merged: writes `instances` rows of the same shape the store
 * writes (header_json holds the InstanceHeader) and builds the InstanceStoredEvent it would emit.
 */
import type { Db } from '../../src/store/database';
import type { InstanceHeader, InstanceStoredEvent, StoredInstance } from '../../src/store/instance-types';
import { SopClass, TransferSyntax, deterministicUid } from '../../src/dicom/uids';

export type TestSeriesKind = 't1' | 't2' | 'ce-t1' | 'localizer' | 'dwi' | 'sag-t1';

const AXIAL = [1, 0, 0, 0, 1, 0];
const SAGITTAL = [0, 1, 0, 0, 0, -1];

export function seriesHeader(kind: TestSeriesKind, seriesNumber: number): Partial<InstanceHeader> {
  switch (kind) {
    case 't1':
      return { SeriesNumber: seriesNumber, SeriesDescription: 'T1_TSE_TRA', ImageOrientationPatient: AXIAL, RepetitionTime: 500, EchoTime: 10, ScanningSequence: 'SE', ImageType: ['ORIGINAL', 'PRIMARY', 'M'] };
    case 't2':
      return { SeriesNumber: seriesNumber, SeriesDescription: 'T2_TSE_TRA', ImageOrientationPatient: AXIAL, RepetitionTime: 4000, EchoTime: 90, ScanningSequence: 'SE', ImageType: ['ORIGINAL', 'PRIMARY', 'M'] };
    case 'ce-t1':
      return { SeriesNumber: seriesNumber, SeriesDescription: 'T1_TSE_TRA+C', ImageOrientationPatient: AXIAL, ContrastBolusAgent: 'Gadovist', RepetitionTime: 550, EchoTime: 10, ScanningSequence: 'SE', ImageType: ['ORIGINAL', 'PRIMARY', 'M'] };
    case 'localizer':
      return { SeriesNumber: seriesNumber, SeriesDescription: 'localizer', ImageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'], ImageOrientationPatient: AXIAL };
    case 'dwi':
      return { SeriesNumber: seriesNumber, SeriesDescription: 'ep2d_diff_b1000_TRA', ImageOrientationPatient: AXIAL };
    case 'sag-t1':
      return { SeriesNumber: seriesNumber, SeriesDescription: 'T1_TSE_SAG', ImageOrientationPatient: SAGITTAL };
  }
}

export interface TestInstanceSpec {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  instanceNumber: number;
  calledAeTitle?: string;
  callingAeTitle?: string;
  receivedAt: string;
  header?: Partial<InstanceHeader>;
}

export function makeInstance(spec: TestInstanceSpec): StoredInstance {
  const sopInstanceUid = deterministicUid(`${spec.seriesInstanceUid}/${spec.instanceNumber}`);
  const header: InstanceHeader = {
    SOPClassUID: SopClass.MrImageStorage,
    SOPInstanceUID: sopInstanceUid,
    StudyInstanceUID: spec.studyInstanceUid,
    SeriesInstanceUID: spec.seriesInstanceUid,
    Modality: 'MR',
    PatientID: 'TEST-PID-1',
    InstanceNumber: spec.instanceNumber,
    ...spec.header,
  };
  return {
    sopInstanceUid,
    sopClassUid: header.SOPClassUID,
    studyInstanceUid: spec.studyInstanceUid,
    seriesInstanceUid: spec.seriesInstanceUid,
    transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
    calledAeTitle: spec.calledAeTitle ?? 'NPCAI',
    callingAeTitle: spec.callingAeTitle ?? 'MODALITY',
    path: `/nonexistent/${sopInstanceUid}.dcm`,
    size: 1000,
    sha256: '0'.repeat(64),
    receivedAt: spec.receivedAt,
    header,
  };
}

/** Inserts (or, for the same SOP Instance UID, keeps) the index row; returns the event the store would emit. */
export function indexInstance(db: Db, instance: StoredInstance, via: 'dimse' | 'stow' = 'dimse'): InstanceStoredEvent {
  const r = db
    .prepare(
      `INSERT OR IGNORE INTO instances (sop_instance_uid, sop_class_uid, study_instance_uid, series_instance_uid, transfer_syntax_uid,
         called_ae_title, calling_ae_title, path, size, sha256, received_at, header_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      instance.sopInstanceUid,
      instance.sopClassUid,
      instance.studyInstanceUid,
      instance.seriesInstanceUid,
      instance.transferSyntaxUid,
      instance.calledAeTitle,
      instance.callingAeTitle,
      instance.path,
      instance.size,
      instance.sha256,
      instance.receivedAt,
      JSON.stringify(instance.header),
    );
  return { instance, duplicate: r.changes === 0, via };
}

/** Indexes `count` instances of one series of the given kind; returns their events in order. */
export function indexSeries(
  db: Db,
  opts: { studyInstanceUid: string; kind: TestSeriesKind; seriesNumber: number; count?: number; receivedAt: () => string; calledAeTitle?: string },
): InstanceStoredEvent[] {
  const seriesInstanceUid = deterministicUid(`${opts.studyInstanceUid}/series/${opts.seriesNumber}/${opts.kind}`);
  const events: InstanceStoredEvent[] = [];
  for (let n = 1; n <= (opts.count ?? 4); n++) {
    const instance = makeInstance({
      studyInstanceUid: opts.studyInstanceUid,
      seriesInstanceUid,
      instanceNumber: n,
      calledAeTitle: opts.calledAeTitle,
      receivedAt: opts.receivedAt(),
      header: seriesHeader(opts.kind, opts.seriesNumber),
    });
    events.push(indexInstance(db, instance));
  }
  return events;
}
