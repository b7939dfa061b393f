/**
 * The embedded store (SQLite through better-sqlite3, WAL mode): local AE titles, sources, destinations,
 * instances, studies, jobs, clinical covariates. Migrations are append-only: add a new entry at the end.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';

export type Db = Database.Database;

interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** In id order. Each is applied once, recorded by id in schema_migrations; ids need not be contiguous. */
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
    id: 31,
    name: 'studies-prior',
    sql: `
      -- 1 when the study reception was fetched from a PACS as another study's prior (src/priors): it starts
      -- no analysis of its own. Persisted so that a restart in the middle of a C-MOVE does not analyse it.
      ALTER TABLE studies ADD COLUMN prior INTEGER NOT NULL DEFAULT 0;
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
  {
    id: 47,
    name: 'node-settings',
    sql: `
      -- Node-wide settings changed through the admin API (e.g. web.showPatientNames), one JSON value per key.
      CREATE TABLE node_settings (key TEXT PRIMARY KEY, value_json TEXT NOT NULL, updated_at TEXT NOT NULL);
    `,
  },
  {
    id: 120,
    name: 'api-tokens',
    sql: `
      -- Admin API bearer tokens (src/store/token-repository.ts): only the SHA-256 of each token is kept.
      CREATE TABLE api_tokens (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,             -- admin | operator | ingest | metrics
        token_sha256 TEXT NOT NULL UNIQUE,
        source_ae_title TEXT,           -- ingest tokens: the source their STOW-RS instances are attributed to
        created_at TEXT NOT NULL,
        last_used_at TEXT
      );
    `,
  },
  {
    id: 121,
    name: 'studies-retention',
    sql: `
      -- Retention (src/admin/retention.ts): when the study's received instances were purged (its instance
      -- rows and files are gone; a resend reopens it as a new generation), and when its result files were.
      ALTER TABLE studies ADD COLUMN purged_at TEXT;
      ALTER TABLE studies ADD COLUMN results_purged_at TEXT;
    `,
  },
];

/** Mode of the data directory: it holds patient data, so only the node's user may enter it. */
export const DATA_DIR_MODE = 0o700;
/** Mode of the database and token files (and SQLite's -wal/-shm companions). */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates the data directory (or tightens an existing one) with DATA_DIR_MODE. A directory the node does not
 * own (e.g. a Kubernetes volume root with fsGroup) cannot be changed: its mode is returned, for a warning.
 */
export function ensureDataDir(dataDir: string): { mode: number; tightened: boolean } {
  mkdirSync(dataDir, { recursive: true, mode: DATA_DIR_MODE });
  try {
    chmodSync(dataDir, DATA_DIR_MODE);
    return { mode: DATA_DIR_MODE, tightened: true };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EROFS') throw e;
    return { mode: statSync(dataDir).mode & 0o777, tightened: false };
  }
}

/** Opens (creating if needed) the node's database under dataDir and applies pending migrations. */
export function openDatabase(dataDir: string): Db {
  ensureDataDir(dataDir);
  const file = path.join(dataDir, 'node.sqlite');
  // Created with 0600 before SQLite opens it (SQLite gives -wal and -shm the database file's mode).
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  chmodSync(file, PRIVATE_FILE_MODE);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  for (const f of [`${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, PRIVATE_FILE_MODE);
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
