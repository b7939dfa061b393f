/**
 * The audit trail: who did what to which study, as JSON lines in <dataDir>/audit/audit-YYYY-MM-DD.jsonl
 * (UTC days, files 0600 in a 0700 directory, kept for audit.retentionDays days). A winston logger of its
 * own, separate from the operational log. Entries never hold a patient's name, ID or birth date: studies
 * are named by StudyInstanceUID and accession number, and fields that could carry patient identity are
 * dropped before an entry is written (see PATIENT_FIELDS).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';

export const AUDIT_EVENT_TYPES = [
  'association-accepted',
  'association-refused',
  'study-received',
  'study-complete',
  'analysis-done',
  'analysis-failed',
  'result-delivered',
  'delivery-failed',
  'config-change',
  'token-use',
  'access-denied',
  'auth-failure',
  'retention-purge',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** What an audit entry may say about whoever caused it. */
export interface AuditActor {
  /** Token name ('admin' for NPC_ADMIN_TOKEN / the generated admin token), or an AE title for DIMSE. */
  name: string;
  role?: string;
}

export type AuditFields = Record<string, unknown> & { actor?: AuditActor };

export interface AuditEntry extends AuditFields {
  time: string;
  type: AuditEventType;
}

/** The one call every producer uses (tests and the retention helper can pass any object with it). */
export interface AuditRecorder {
  record(type: AuditEventType, fields?: AuditFields): void;
}

/** Keys never written, at any depth (patient identity). */
const PATIENT_FIELDS = new Set(
  ['PatientName', 'PatientID', 'PatientBirthDate', 'OtherPatientIDs', 'OtherPatientNames', 'PatientBirthName', 'PatientMotherBirthName', 'PatientAddress', 'patientName', 'patientId', 'patientBirthDate', 'header'].map((k) => k.toLowerCase()),
);

export function withoutPatientFields(v: unknown, depth = 0): unknown {
  if (depth > 6 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => withoutPatientFields(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!PATIENT_FIELDS.has(k.toLowerCase())) out[k] = withoutPatientFields(x, depth + 1);
  return out;
}

export interface AuditQuery {
  /** ISO time: entries at or after it. */
  since?: string;
  type?: AuditEventType;
  limit?: number;
}

const FILE_RE = /^audit-(\d{4}-\d{2}-\d{2})\.jsonl$/;

export class AuditLog implements AuditRecorder {
  readonly dir: string;
  private readonly logger: winston.Logger;
  private readonly transport: DailyRotateFile;
  private closed = false;

  constructor(opts: { dataDir: string; retentionDays: number; onError?: (e: Error) => void }) {
    this.dir = path.join(opts.dataDir, 'audit');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const transport = new DailyRotateFile({
      dirname: this.dir,
      filename: 'audit-%DATE%.jsonl',
      datePattern: 'YYYY-MM-DD',
      utc: true,
      maxFiles: `${opts.retentionDays}d`,
      auditFile: path.join(this.dir, '.rotation.json'),
      options: { flags: 'a', mode: 0o600 },
      createSymlink: false,
    });
    transport.on('error', (e: Error) => opts.onError?.(e));
    this.transport = transport;
    this.logger = winston.createLogger({
      level: 'info',
      format: winston.format.printf((info) => String(info.message)),
      transports: [transport],
    });
  }

  record(type: AuditEventType, fields: AuditFields = {}): void {
    if (this.closed) return;
    const entry = { time: new Date().toISOString(), type, ...(withoutPatientFields(fields) as AuditFields) };
    // An audit failure must never change what a peer or client is answered.
    try {
      this.logger.log({ level: 'info', message: JSON.stringify(entry) });
    } catch {
      /* reported through onError */
    }
  }

  /** Entries newest first, from the daily files (what was written so far; writes are asynchronous). */
  query(q: AuditQuery = {}): AuditEntry[] {
    const limit = q.limit ?? 100;
    const since = q.since ? Date.parse(q.since) : undefined;
    const sinceDay = since !== undefined ? new Date(since).toISOString().slice(0, 10) : undefined;
    const files = existsSync(this.dir)
      ? readdirSync(this.dir)
          .map((f) => FILE_RE.exec(f))
          .filter((m): m is RegExpExecArray => !!m && (sinceDay === undefined || m[1]! >= sinceDay))
          .sort((a, b) => (a[1]! < b[1]! ? 1 : -1))
      : [];
    const out: AuditEntry[] = [];
    for (const m of files) {
      const lines = readFileSync(path.join(this.dir, m[0]), 'utf8').split('\n');
      for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
        const line = lines[i]!.trim();
        if (!line) continue;
        let e: AuditEntry;
        try {
          e = JSON.parse(line) as AuditEntry;
        } catch {
          continue; // a line cut by a crash
        }
        if (since !== undefined && Date.parse(e.time) < since) continue;
        if (q.type && e.type !== q.type) continue;
        out.push(e);
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Flushes what was recorded to the file and closes it (at most ~2 s per step). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const within = (p: (done: () => void) => void) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        t.unref();
        p(() => {
          clearTimeout(t);
          resolve();
        });
      });
    // 1. every entry handed from the logger to the transport (the transport finishes when the logger ends);
    await within((done) => {
      this.transport.once('finish', done);
      this.logger.end();
    });
    // 2. the transport's file stream flushed and closed.
    const stream = (this.transport as unknown as { logStream?: NodeJS.WritableStream }).logStream;
    if (stream) await within((done) => stream.end(done));
  }
}
