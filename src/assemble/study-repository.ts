/**
 * Typed access to the `studies` table (one row per StudyInstanceUID and called AE title) and the
 * per-study views of the `instances` index that completion, the admin API and the prior-study lookup need.
 * This module is the only one with SQL on `studies`.
 */
import type BetterSqlite3 from 'better-sqlite3';
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
  /** When retention purged the received instances of this generation (null: they are kept). */
  purgedAt: string | null;
  /** When retention purged the study's result files (null: kept, or none written). */
  resultsPurgedAt: string | null;
  /** Fetched from a PACS as another study's prior (src/priors): completes without an analysis job of its own. */
  prior: boolean;
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
  purged_at?: string | null;
  results_purged_at?: string | null;
  prior?: number;
  series_count?: number;
  instance_count?: number;
}

export interface StudyFilter {
  state?: StudyState;
  calledAeTitle?: string;
  limit?: number;
  offset?: number;
}

/** Search of study receptions by what a user knows (all given conditions must hold). */
export interface StudySearch extends StudyFilter {
  studyInstanceUid?: string;
  /** Exact AccessionNumber. */
  accessionNumber?: string;
  /** StudyDate range, YYYYMMDD each, both inclusive. */
  studyDateFrom?: string;
  studyDateTo?: string;
}

/** Study-level attributes of a reception, from the header of its first received instance. */
export interface StudyAttributes {
  accessionNumber: string | null;
  studyDate: string | null;
  studyTime: string | null;
  studyDescription: string | null;
  /** The raw PatientName value (naturalized PN); the admin API decides whether to show it. */
  patientName: unknown;
}

export interface StudySearchHit extends StudySummary, StudyAttributes {}

/** A patient's study reception with the StudyDate of one of its instances (for prior-study lookup). */
export interface PatientStudy {
  studyInstanceUid: string;
  studyDate: string | null;
}

type Statement = BetterSqlite3.Statement<unknown[]>;

/**
 * The one owner of SQL on `studies`: every statement is prepared once, here. Other modules (assembler,
 * admin API, metrics, prior-study lookup, node wiring) call these methods instead of writing SQL.
 */
export class StudyRepository {
  private readonly stmt: {
    get: Statement;
    receptionsOf: Statement;
    listByState: Statement;
    /** list and count, one statement per filter combination (state?, calledAeTitle?). */
    list: Map<string, Statement>;
    count: Map<string, Statement>;
    insertReceiving: Statement;
    touch: Statement;
    reopen: Statement;
    bumpGeneration: Statement;
    markComplete: Statement;
    markPrior: Statement;
    rekeyPatient: Statement;
    keysOfPatient: Statement;
    otherStudiesOfPatient: Statement;
    countByState: Statement;
    seriesHeadersOf: Statement;
    seriesOf: Statement;
    instanceAggregates: Statement;
    search: Statement;
    searchCount: Statement;
    retentionCandidates: Statement;
    markPurged: Statement;
    markResultsPurged: Statement;
  };

  constructor(db: Db) {
    const list = new Map<string, Statement>();
    const count = new Map<string, Statement>();
    for (const state of [false, true]) {
      for (const ae of [false, true]) {
        const { where } = whereOf({ ...(state ? { state: 'receiving' as const } : {}), ...(ae ? { calledAeTitle: 'x' } : {}) });
        const k = filterKey(state, ae);
        list.set(
          k,
          db.prepare(
            `SELECT s.*,
               (SELECT count(DISTINCT i.series_instance_uid) FROM instances i
                  WHERE i.study_instance_uid = s.study_instance_uid AND i.called_ae_title = s.called_ae_title) AS series_count,
               (SELECT count(*) FROM instances i
                  WHERE i.study_instance_uid = s.study_instance_uid AND i.called_ae_title = s.called_ae_title) AS instance_count
             FROM studies s ${where} ORDER BY s.last_received_at DESC, s.study_instance_uid LIMIT ? OFFSET ?`,
          ),
        );
        count.set(k, db.prepare(`SELECT count(*) AS n FROM studies s ${where}`));
      }
    }
    this.stmt = {
      get: db.prepare('SELECT * FROM studies WHERE study_instance_uid = ? AND called_ae_title = ?'),
      receptionsOf: db.prepare('SELECT * FROM studies WHERE study_instance_uid = ? ORDER BY last_received_at DESC'),
      listByState: db.prepare('SELECT * FROM studies WHERE state = ?'),
      list,
      count,
      insertReceiving: db.prepare(
        `INSERT INTO studies (study_instance_uid, called_ae_title, calling_ae_title, patient_id, state,
                              first_received_at, last_received_at, generation, prior)
         VALUES (?, ?, ?, ?, 'receiving', ?, ?, ?, ?)`,
      ),
      markPrior: db.prepare('UPDATE studies SET prior = 1 WHERE study_instance_uid = ? AND called_ae_title = ? AND prior = 0'),
      touch: db.prepare(
        `UPDATE studies SET last_received_at = CASE WHEN last_received_at < @at THEN @at ELSE last_received_at END,
                            patient_id = coalesce(patient_id, @patientId)
         WHERE study_instance_uid = @uid AND called_ae_title = @ae`,
      ),
      reopen: db.prepare(
        `UPDATE studies SET state = 'receiving', generation = generation + 1, last_received_at = @at,
                            completed_at = NULL, completion_reason = NULL, purged_at = NULL
         WHERE study_instance_uid = @uid AND called_ae_title = @ae AND state = 'complete' AND generation = @gen`,
      ),
      bumpGeneration: db.prepare(
        `UPDATE studies SET generation = generation + 1
         WHERE study_instance_uid = @uid AND called_ae_title = @ae AND state = 'complete' AND generation = @gen`,
      ),
      markComplete: db.prepare(
        `UPDATE studies SET state = 'complete', completed_at = @at, completion_reason = @reason
         WHERE study_instance_uid = @uid AND called_ae_title = @ae AND state = 'receiving' AND generation = @gen`,
      ),
      rekeyPatient: db.prepare('UPDATE studies SET patient_id = ? WHERE study_instance_uid = ?'),
      keysOfPatient: db.prepare('SELECT study_instance_uid AS uid, called_ae_title AS ae FROM studies WHERE patient_id = ?'),
      // The studies table knows each study's patient (indexed), so this never scans the instance headers.
      otherStudiesOfPatient: db.prepare(
        `SELECT DISTINCT s.study_instance_uid AS uid,
                (SELECT json_extract(i.header_json, '$.StudyDate') FROM instances i WHERE i.study_instance_uid = s.study_instance_uid LIMIT 1) AS date
           FROM studies s
          WHERE s.patient_id = ? AND s.study_instance_uid <> ?`,
      ),
      countByState: db.prepare('SELECT state, COUNT(*) AS n FROM studies GROUP BY state'),
      seriesHeadersOf: db.prepare('SELECT series_instance_uid, header_json FROM instances WHERE study_instance_uid = ? AND called_ae_title = ?'),
      seriesOf: db.prepare(
        `SELECT series_instance_uid AS uid, count(*) AS n, min(received_at) AS first, max(received_at) AS last,
                json_extract(min(header_json), '$.SeriesNumber') AS number,
                json_extract(min(header_json), '$.SeriesDescription') AS description,
                json_extract(min(header_json), '$.Modality') AS modality
         FROM instances WHERE study_instance_uid = ? AND called_ae_title = ?
         GROUP BY series_instance_uid ORDER BY number, uid`,
      ),
      search: db.prepare(`${SEARCH_SQL} ORDER BY last_received_at DESC, study_instance_uid LIMIT @limit OFFSET @offset`),
      searchCount: db.prepare(`SELECT count(*) AS n FROM (${SEARCH_SQL})`),
      instanceAggregates: db.prepare(
        `SELECT study_instance_uid AS uid, called_ae_title AS ae, min(calling_ae_title) AS calling, count(*) AS n,
                min(received_at) AS first, max(received_at) AS last,
                max(json_extract(header_json, '$.PatientID')) AS patient_id
         FROM instances GROUP BY study_instance_uid, called_ae_title`,
      ),
      retentionCandidates: db.prepare(
        `SELECT * FROM studies WHERE state = 'complete' AND purged_at IS NULL AND last_received_at < ?
         ORDER BY last_received_at, study_instance_uid`,
      ),
      markPurged: db.prepare(
        `UPDATE studies SET purged_at = @at
         WHERE study_instance_uid = @uid AND called_ae_title = @ae AND state = 'complete' AND generation = @gen AND purged_at IS NULL`,
      ),
      markResultsPurged: db.prepare('UPDATE studies SET results_purged_at = @at WHERE study_instance_uid = @uid'),
    };
  }

  get(key: StudyKey): StudyRecord | undefined {
    const row = this.stmt.get.get(key.studyInstanceUid, key.calledAeTitle) as StudyRow | undefined;
    return row && toRecord(row);
  }

  /** Every reception of a study (one per called AE title), newest first. */
  receptionsOf(studyInstanceUid: string): StudyRecord[] {
    return (this.stmt.receptionsOf.all(studyInstanceUid) as StudyRow[]).map(toRecord);
  }

  listByState(state: StudyState): StudyRecord[] {
    return (this.stmt.listByState.all(state) as StudyRow[]).map(toRecord);
  }

  list(filter: StudyFilter = {}): StudySummary[] {
    const { params } = whereOf(filter);
    const rows = this.stmt.list.get(filterKey(!!filter.state, !!filter.calledAeTitle))!.all(...params, filter.limit ?? 100, filter.offset ?? 0) as StudyRow[];
    return rows.map((r) => ({ ...toRecord(r), seriesCount: r.series_count ?? 0, instanceCount: r.instance_count ?? 0 }));
  }

  count(filter: StudyFilter = {}): number {
    const { params } = whereOf(filter);
    return (this.stmt.count.get(filterKey(!!filter.state, !!filter.calledAeTitle))!.get(...params) as { n: number }).n;
  }

  /** Number of study receptions per state (states with none are absent). */
  countByState(): Map<StudyState, number> {
    const rows = this.stmt.countByState.all() as { state: StudyState; n: number }[];
    return new Map(rows.map((r) => [r.state, r.n]));
  }

  /** Every study reception (any called AE title) of one patient. */
  keysOfPatient(patientId: string): StudyKey[] {
    const rows = this.stmt.keysOfPatient.all(patientId) as { uid: string; ae: string }[];
    return rows.map((r) => ({ studyInstanceUid: r.uid, calledAeTitle: r.ae }));
  }

  /** The patient's studies other than `exceptStudyInstanceUid`, each once, with a StudyDate from its instances. */
  otherStudiesOfPatient(patientId: string, exceptStudyInstanceUid: string): PatientStudy[] {
    const rows = this.stmt.otherStudiesOfPatient.all(patientId, exceptStudyInstanceUid) as { uid: string; date: string | null }[];
    return rows.map((r) => ({ studyInstanceUid: r.uid, studyDate: r.date === null ? null : String(r.date) }));
  }

  insertReceiving(rec: Omit<StudyRecord, 'state' | 'completedAt' | 'completionReason' | 'purgedAt' | 'resultsPurgedAt' | 'prior'> & { prior?: boolean }): void {
    this.stmt.insertReceiving.run(rec.studyInstanceUid, rec.calledAeTitle, rec.callingAeTitle, rec.patientId, rec.firstReceivedAt, rec.lastReceivedAt, rec.generation, rec.prior ? 1 : 0);
  }

  /** Marks a study reception as a prior fetched from a PACS (it then completes without an analysis job). */
  markPrior(key: StudyKey): boolean {
    return this.stmt.markPrior.run(key.studyInstanceUid, key.calledAeTitle).changes > 0;
  }

  /** Sets the study's PatientID (every reception of it): a corrected patient identity (storage.patientIdentityMismatch). */
  rekeyPatient(studyInstanceUid: string, patientId: string | null): void {
    this.stmt.rekeyPatient.run(patientId, studyInstanceUid);
  }

  /** Moves last_received_at forward (never back); fills patient_id when it was unknown. */
  touch(key: StudyKey, at: string, patientId: string | null): void {
    this.stmt.touch.run({ uid: key.studyInstanceUid, ae: key.calledAeTitle, at, patientId });
  }

  /** complete -> receiving with generation + 1 (late instances after completion). */
  reopen(key: StudyKey, at: string, fromGeneration: number): boolean {
    return this.stmt.reopen.run({ uid: key.studyInstanceUid, ae: key.calledAeTitle, at, gen: fromGeneration }).changes > 0;
  }

  /** A complete study's generation + 1, staying complete (re-analysis on demand); false if it moved meanwhile. */
  bumpGeneration(key: StudyKey, fromGeneration: number): boolean {
    return this.stmt.bumpGeneration.run({ uid: key.studyInstanceUid, ae: key.calledAeTitle, gen: fromGeneration }).changes === 1;
  }

  /** receiving -> complete, only for the generation the caller decided on. */
  markComplete(key: StudyKey, generation: number, at: string, reason: CompletionReason): boolean {
    return this.stmt.markComplete.run({ uid: key.studyInstanceUid, ae: key.calledAeTitle, at, reason, gen: generation }).changes > 0;
  }

  /** Instance headers of one study reception, grouped by series (input of a SeriesRoleResolver). */
  seriesHeadersOf(key: StudyKey): SeriesHeaders[] {
    const rows = this.stmt.seriesHeadersOf.all(key.studyInstanceUid, key.calledAeTitle) as { series_instance_uid: string; header_json: string }[];
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
    const rows = this.stmt.seriesOf.all(key.studyInstanceUid, key.calledAeTitle) as {
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

  /** Study receptions matching every given condition, newest first, with their study-level attributes. */
  search(q: StudySearch = {}): StudySearchHit[] {
    const rows = this.stmt.search.all({ ...searchParams(q), limit: q.limit ?? 100, offset: q.offset ?? 0 }) as (StudyRow & { first_header: string | null })[];
    return rows.map((r) => ({ ...toRecord(r), seriesCount: r.series_count ?? 0, instanceCount: r.instance_count ?? 0, ...attributesOf(r.first_header) }));
  }

  searchCount(q: StudySearch = {}): number {
    return (this.stmt.searchCount.get(searchParams(q)) as { n: number }).n;
  }

  /** Complete study receptions whose received instances are still kept and whose last instance came before `before` (ISO). */
  retentionCandidates(before: string): StudyRecord[] {
    return (this.stmt.retentionCandidates.all(before) as StudyRow[]).map(toRecord);
  }

  /** Records that the received instances of this generation were purged; false when the study moved on meanwhile. */
  markPurged(key: StudyKey, generation: number, at: string): boolean {
    return this.stmt.markPurged.run({ uid: key.studyInstanceUid, ae: key.calledAeTitle, gen: generation, at }).changes > 0;
  }

  /** Records that the study's result files (every reception's) were purged. */
  markResultsPurged(studyInstanceUid: string, at: string): void {
    this.stmt.markResultsPurged.run({ uid: studyInstanceUid, at });
  }

  /** One aggregate per (study, called AE) present in the instance index. */
  instanceAggregates(): InstanceAggregate[] {
    const rows = this.stmt.instanceAggregates.all() as { uid: string; ae: string; calling: string; n: number; first: string; last: string; patient_id: string | null }[];
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

/** Receptions with their first instance's header; the outer query filters on its study-level attributes. */
const SEARCH_SQL = `
  SELECT * FROM (
    SELECT s.*,
      (SELECT i.header_json FROM instances i
         WHERE i.study_instance_uid = s.study_instance_uid AND i.called_ae_title = s.called_ae_title
         ORDER BY i.received_at LIMIT 1) AS first_header,
      (SELECT count(DISTINCT i.series_instance_uid) FROM instances i
         WHERE i.study_instance_uid = s.study_instance_uid AND i.called_ae_title = s.called_ae_title) AS series_count,
      (SELECT count(*) FROM instances i
         WHERE i.study_instance_uid = s.study_instance_uid AND i.called_ae_title = s.called_ae_title) AS instance_count
    FROM studies s
    WHERE (@state IS NULL OR s.state = @state) AND (@ae IS NULL OR s.called_ae_title = @ae)
      AND (@uid IS NULL OR s.study_instance_uid = @uid)
  )
  WHERE (@acc IS NULL OR json_extract(first_header, '$.AccessionNumber') = @acc)
    AND (@dateFrom IS NULL OR json_extract(first_header, '$.StudyDate') >= @dateFrom)
    AND (@dateTo IS NULL OR json_extract(first_header, '$.StudyDate') <= @dateTo)`;

function searchParams(q: StudySearch): Record<string, string | null> {
  return {
    state: q.state ?? null,
    ae: q.calledAeTitle ?? null,
    uid: q.studyInstanceUid ?? null,
    acc: q.accessionNumber ?? null,
    dateFrom: q.studyDateFrom ?? null,
    dateTo: q.studyDateTo ?? null,
  };
}

/** Study-level attributes from one instance header (JSON as the index stores it). */
export function attributesOf(headerJson: string | null): StudyAttributes {
  let h: Record<string, unknown> = {};
  try {
    h = headerJson ? (JSON.parse(headerJson) as Record<string, unknown>) : {};
  } catch {
    h = {};
  }
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);
  return {
    accessionNumber: text(h.AccessionNumber),
    studyDate: text(h.StudyDate),
    studyTime: text(h.StudyTime),
    studyDescription: text(h.StudyDescription),
    patientName: h.PatientName ?? null,
  };
}

function filterKey(state: boolean, calledAeTitle: boolean): string {
  return `${state ? 's' : ''}${calledAeTitle ? 'a' : ''}`;
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
    purgedAt: r.purged_at ?? null,
    resultsPurgedAt: r.results_purged_at ?? null,
    prior: r.prior === 1,
  };
}
