/**
 * Clinical covariates per patient (the `clinical` table): what the API stored last, validated again on the
 * way in and out. Read by the next analysis of that patient. Keys are DICOM PatientID values; never logged.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './database';
import { ClinicalCovariatesSchema, type ClinicalCovariates } from '../core/clinical-covariates';

export interface ClinicalRecord {
  patientId: string;
  clinical: ClinicalCovariates;
  updatedAt: string;
}

export class ClinicalRepository {
  private readonly selectOne: Statement;
  private readonly upsert: Statement;
  private readonly remove: Statement;

  constructor(db: Db) {
    this.selectOne = db.prepare('SELECT data_json, updated_at FROM clinical WHERE patient_id = ?');
    this.upsert = db.prepare(`INSERT INTO clinical (patient_id, data_json, updated_at) VALUES (?, ?, ?)
                ON CONFLICT(patient_id) DO UPDATE SET data_json = excluded.data_json, updated_at = excluded.updated_at`);
    this.remove = db.prepare('DELETE FROM clinical WHERE patient_id = ?');
  }

  get(patientId: string): ClinicalRecord | undefined {
    const row = this.selectOne.get(patientId) as
      | { data_json: string; updated_at: string }
      | undefined;
    if (!row) return undefined;
    return { patientId, clinical: ClinicalCovariatesSchema.parse(JSON.parse(row.data_json)), updatedAt: row.updated_at };
  }

  /** Replaces the patient's covariates; returns the stored record and whether it existed before. */
  put(patientId: string, clinical: ClinicalCovariates): { record: ClinicalRecord; created: boolean } {
    const v = ClinicalCovariatesSchema.parse(clinical);
    const updatedAt = new Date().toISOString();
    const created = !this.get(patientId);
    this.upsert.run(patientId, JSON.stringify(v), updatedAt);
    return { record: { patientId, clinical: v, updatedAt }, created };
  }

  delete(patientId: string): boolean {
    return this.remove.run(patientId).changes > 0;
  }
}
