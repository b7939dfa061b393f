/**
 * The embedded store (SQLite through better-sqlite3, WAL mode): local AE titles, sources, destinations,
 * instances, studies, jobs, clinical covariates. Migrations are append-only: add a new entry at the end.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export type Db = Database.Database;

interface Migration {
  id: number;
  name: string;
  sql: string;
}

const MIGRATIONS: Migration[] = [
  {
    id: 1,
    name: 'initial',
    sql: `
      CREATE TABLE ae_titles (
        ae_title TEXT PRIMARY KEY,
        config_json TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE sources (
        ae_title TEXT PRIMARY KEY,
        config_json TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE destinations (
        name TEXT PRIMARY KEY,
        config_json TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      -- One row per stored SOP instance. path is relative to the data dir.
      CREATE TABLE instances (
        sop_instance_uid TEXT PRIMARY KEY,
        sop_class_uid TEXT NOT NULL,
        study_instance_uid TEXT NOT NULL,
        series_instance_uid TEXT NOT NULL,
        transfer_syntax_uid TEXT NOT NULL,
        called_ae_title TEXT NOT NULL,
        calling_ae_title TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        received_at TEXT NOT NULL,
        -- Header attributes the selector and assembler need (JSON, no pixel data).
        header_json TEXT NOT NULL
      );
      CREATE INDEX instances_study ON instances(study_instance_uid);
      CREATE INDEX instances_series ON instances(series_instance_uid);
      -- A study as received by one local AE title.
      CREATE TABLE studies (
        study_instance_uid TEXT NOT NULL,
        called_ae_title TEXT NOT NULL,
        calling_ae_title TEXT NOT NULL,
        patient_id TEXT,
        state TEXT NOT NULL,            -- receiving | complete
        first_received_at TEXT NOT NULL,
        last_received_at TEXT NOT NULL,
        completed_at TEXT,
        completion_reason TEXT,         -- quiet | forced | late-instances
        generation INTEGER NOT NULL DEFAULT 0,  -- bumped by each completion (re-analysis after late instances)
        PRIMARY KEY (study_instance_uid, called_ae_title)
      );
      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,             -- analysis | delivery
        state TEXT NOT NULL,            -- queued | running | done | failed | dead | superseded
        study_instance_uid TEXT NOT NULL,
        called_ae_title TEXT,
        generation INTEGER,
        parent_job_id INTEGER,
        destination TEXT,
        payload_json TEXT,
        result_json TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        history_json TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX jobs_state ON jobs(state, kind);
      CREATE INDEX jobs_study ON jobs(study_instance_uid);
      CREATE UNIQUE INDEX jobs_one_analysis_per_generation
        ON jobs(study_instance_uid, called_ae_title, generation) WHERE kind = 'analysis';
      CREATE TABLE clinical (
        patient_id TEXT PRIMARY KEY,
        data_json TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    id: 10,
    name: 'jobs-supersession',
    sql: `
      -- Set on an analysis job (and its pending children) when a re-analysis of the same study replaces it;
      -- holds the id of the replacing analysis job. See docs/study-completion.md.
      ALTER TABLE jobs ADD COLUMN superseded_by INTEGER;
      CREATE INDEX jobs_parent ON jobs(parent_job_id);
    `,
  },
  {
    id: 30,
    name: 'studies-by-patient',
    sql: `
      -- The progression analysis looks up a patient's other studies (src/pipeline/prior-study-from-store.ts).
      CREATE INDEX studies_patient ON studies(patient_id);
    `,
  },
  {
    id: 40,
    name: 'quarantine',
    sql: `
      -- Instances held apart because their patient identity differs from their study's
      -- (storage.patientIdentityMismatch 'quarantine'): never indexed in instances, never analysed, until an
      -- admin releases (into the study) or deletes them. path is relative to the data dir.
      CREATE TABLE quarantine (
        sop_instance_uid TEXT PRIMARY KEY,
        sop_class_uid TEXT NOT NULL,
        study_instance_uid TEXT NOT NULL,
        series_instance_uid TEXT NOT NULL,
        called_ae_title TEXT NOT NULL,
        calling_ae_title TEXT NOT NULL,
        via TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        reason TEXT NOT NULL,
        received_at TEXT NOT NULL
      );
    `,
  },
];

/** Opens (creating if needed) the node's database under dataDir and applies pending migrations. */
export function openDatabase(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, 'node.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

export function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT id FROM schema_migrations').all() as { id: number }[]).map((r) => r.id));
  for (const m of MIGRATIONS) {
    if (applied.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)').run(m.id, m.name, new Date().toISOString());
    })();
  }
}
