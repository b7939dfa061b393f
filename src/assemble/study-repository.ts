/**
 * Typed access to the `studies` table (one row per StudyInstanceUID and called AE title) and the
 * per-study views of the `instances` index that completion and the admin API need.
 */
import type { Db } from '../store/database';
import type { InstanceHeader } from '../store/instance-types';
import type { SeriesHeaders } from './series-roles';

export type StudyState = 'receiving' | 'complete';
export type CompletionReason = 'quiet' | 'forced';

export interface StudyKey {
  studyInstanceUid: string;
  calledAeTitle: string;
}

export interface StudyRecord extends StudyKey {
  callingAeTitle: string;
  patientId: string | null;
  state: StudyState;
  firstReceivedAt: string;
  lastReceivedAt: string;
  completedAt: string | null;
  completionReason: CompletionReason | null;
  /** 0 for the first analysis; +1 each time late instances reopen a complete study. */
  generation: number;
}

export interface StudySummary extends StudyRecord {
  seriesCount: number;
  instanceCount: number;
}

export interface SeriesSummary {
  seriesInstanceUid: string;
  seriesNumber: number | null;
  seriesDescription: string | null;
  modality: string | null;
  instanceCount: number;
  firstReceivedAt: string;
  lastReceivedAt: string;
}

/** Per (study, called AE) aggregate of the instance index, used to reconcile after a restart. */
export interface InstanceAggregate extends StudyKey {
  callingAeTitle: string;
  patientId: string | null;
  instanceCount: number;
  firstReceivedAt: string;
  lastReceivedAt: string;
}

interface StudyRow {
  study_instance_uid: string;
  called_ae_title: string;
  calling_ae_title: string;
  patient_id: string | null;
  state: string;
  first_received_at: string;
  last_received_at: string;
  completed_at: string | null;
  completion_reason: string | null;
  generation: number;
  series_count?: number;
  instance_count?: number;
}

export interface StudyFilter {
  state?: StudyState;
  calledAeTitle?: string;
  limit?: number;
  offset?: number;
}

export class StudyRepository {
  constructor(private readonly db: Db) {}

  get(key: StudyKey): StudyRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM studies WHERE study_instance_uid = ? AND called_ae_title = ?')
      .get(key.studyInstanceUid, key.calledAeTitle) as StudyRow | undefined;
    return row && toRecord(row);
  }

  /** Every reception of a study (one per called AE title), newest first. */
  receptionsOf(studyInstanceUid: string): StudyRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM studies WHERE study_instance_uid = ? ORDER BY last_received_at DESC')
      .all(studyInstanceUid) as StudyRow[];
    return rows.map(toRecord);
  }

  listByState(state: StudyState): StudyRecord[] {
    return (this.db.prepare('SELECT * FROM studies WHERE state = ?').all(state) as StudyRow[]).map(toRecord);
  }

  list(filter: StudyFilter = {}): StudySummary[] {
    const { where, params } = whereOf(filter);
    const rows = this.db
      .prepare(
        `SELECT s.*,
           (SELECT count(DISTINCT i.series_instance_uid) FROM instances i
              WHERE i.study_instance_uid = s.study_instance_uid AND i.called_ae_title = s.called_ae_title) AS series_count,
           (SELECT count(*) FROM instances i
              WHERE i.study_instance_uid = s.study_instance_uid AND i.called_ae_title = s.called_ae_title) AS instance_count
         FROM studies s ${where} ORDER BY s.last_received_at DESC, s.study_instance_uid LIMIT ? OFFSET ?`,
      )
      .all(...params, filter.limit ?? 100, filter.offset ?? 0) as StudyRow[];
    return rows.map((r) => ({ ...toRecord(r), seriesCount: r.series_count ?? 0, instanceCount: r.instance_count ?? 0 }));
  }

  count(filter: StudyFilter = {}): number {
    const { where, params } = whereOf(filter);
    return (this.db.prepare(`SELECT count(*) AS n FROM studies s ${where}`).get(...params) as { n: number }).n;
  }

  insertReceiving(rec: Omit<StudyRecord, 'state' | 'completedAt' | 'completionReason'>): void {
    this.db
      .prepare(
        `INSERT INTO studies (study_instance_uid, called_ae_title, calling_ae_title, patient_id, state,
                              first_received_at, last_received_at, generation)
         VALUES (?, ?, ?, ?, 'receiving', ?, ?, ?)`,
      )
      .run(rec.studyInstanceUid, rec.calledAeTitle, rec.callingAeTitle, rec.patientId, rec.firstReceivedAt, rec.lastReceivedAt, rec.generation);
  }

  /** Moves last_received_at forward (never back); fills patient_id when it was unknown. */
  touch(key: StudyKey, at: string, patientId: string | null): void {
    this.db
      .prepare(
        `UPDATE studies SET last_received_at = CASE WHEN last_received_at < @at THEN @at ELSE last_received_at END,
                            patient_id = coalesce(patient_id, @patientId)
         WHERE study_instance_uid = @uid AND called_ae_title = @ae`,
      )
      .run({ uid: key.studyInstanceUid, ae: key.calledAeTitle, at, patientId });
  }

  /** complete -> receiving with generation + 1 (late instances after completion). */
  reopen(key: StudyKey, at: string, fromGeneration: number): boolean {
    const r = this.db
      .prepare(
        `UPDATE studies SET state = 'receiving', generation = generation + 1, last_received_at = @at,
                            completed_at = NULL, completion_reason = NULL
         WHERE study_instance_uid = @uid AND called_ae_title = @ae AND state = 'complete' AND generation = @gen`,
      )
      .run({ uid: key.studyInstanceUid, ae: key.calledAeTitle, at, gen: fromGeneration });
    return r.changes > 0;
  }

  /** receiving -> complete, only for the generation the caller decided on. */
  markComplete(key: StudyKey, generation: number, at: string, reason: CompletionReason): boolean {
    const r = this.db
      .prepare(
        `UPDATE studies SET state = 'complete', completed_at = @at, completion_reason = @reason
         WHERE study_instance_uid = @uid AND called_ae_title = @ae AND state = 'receiving' AND generation = @gen`,
      )
      .run({ uid: key.studyInstanceUid, ae: key.calledAeTitle, at, reason, gen: generation });
    return r.changes > 0;
  }

  /** Instance headers of one study reception, grouped by series (input of a SeriesRoleResolver). */
  seriesHeadersOf(key: StudyKey): SeriesHeaders[] {
    const rows = this.db
      .prepare('SELECT series_instance_uid, header_json FROM instances WHERE study_instance_uid = ? AND called_ae_title = ?')
      .all(key.studyInstanceUid, key.calledAeTitle) as { series_instance_uid: string; header_json: string }[];
    const bySeries = new Map<string, InstanceHeader[]>();
    for (const r of rows) {
      let header: InstanceHeader;
      try {
        header = JSON.parse(r.header_json) as InstanceHeader;
      } catch {
        continue; // a damaged header row never blocks completion; the force timer still applies
      }
      const list = bySeries.get(r.series_instance_uid) ?? [];
      list.push(header);
      bySeries.set(r.series_instance_uid, list);
    }
    return [...bySeries].map(([seriesInstanceUid, headers]) => ({ seriesInstanceUid, headers }));
  }

  seriesOf(key: StudyKey): SeriesSummary[] {
    const rows = this.db
      .prepare(
        `SELECT series_instance_uid AS uid, count(*) AS n, min(received_at) AS first, max(received_at) AS last,
                json_extract(min(header_json), '$.SeriesNumber') AS number,
                json_extract(min(header_json), '$.SeriesDescription') AS description,
                json_extract(min(header_json), '$.Modality') AS modality
         FROM instances WHERE study_instance_uid = ? AND called_ae_title = ?
         GROUP BY series_instance_uid ORDER BY number, uid`,
      )
      .all(key.studyInstanceUid, key.calledAeTitle) as {
      uid: string;
      n: number;
      first: string;
      last: string;
      number: number | string | null;
      description: string | null;
      modality: string | null;
    }[];
    return rows.map((r) => ({
      seriesInstanceUid: r.uid,
      seriesNumber: r.number === null || r.number === '' ? null : Number(r.number),
      seriesDescription: r.description,
      modality: r.modality,
      instanceCount: r.n,
      firstReceivedAt: r.first,
      lastReceivedAt: r.last,
    }));
  }

  /** One aggregate per (study, called AE) present in the instance index. */
  instanceAggregates(): InstanceAggregate[] {
    const rows = this.db
      .prepare(
        `SELECT study_instance_uid AS uid, called_ae_title AS ae, min(calling_ae_title) AS calling, count(*) AS n,
                min(received_at) AS first, max(received_at) AS last,
                max(json_extract(header_json, '$.PatientID')) AS patient_id
         FROM instances GROUP BY study_instance_uid, called_ae_title`,
      )
      .all() as { uid: string; ae: string; calling: string; n: number; first: string; last: string; patient_id: string | null }[];
    return rows.map((r) => ({
      studyInstanceUid: r.uid,
      calledAeTitle: r.ae,
      callingAeTitle: r.calling,
      patientId: r.patient_id === null ? null : String(r.patient_id),
      instanceCount: r.n,
      firstReceivedAt: r.first,
      lastReceivedAt: r.last,
    }));
  }
}

function whereOf(filter: StudyFilter): { where: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.state) (clauses.push('s.state = ?'), params.push(filter.state));
  if (filter.calledAeTitle) (clauses.push('s.called_ae_title = ?'), params.push(filter.calledAeTitle));
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

function toRecord(r: StudyRow): StudyRecord {
  return {
    studyInstanceUid: r.study_instance_uid,
    calledAeTitle: r.called_ae_title,
    callingAeTitle: r.calling_ae_title,
    patientId: r.patient_id,
    state: r.state as StudyState,
    firstReceivedAt: r.first_received_at,
    lastReceivedAt: r.last_received_at,
    completedAt: r.completed_at,
    completionReason: r.completion_reason as CompletionReason | null,
    generation: r.generation,
  };
}
