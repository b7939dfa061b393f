/**
 * The durable instance store: validates a spooled Part 10 file, places it at
 * <dataDir>/instances/<StudyUID>/<SeriesUID>/<SOPUID>.dcm (temp file fsynced, renamed, directory fsynced),
 * indexes it in `instances`, and emits 'stored' (InstanceStoredEvent) once it is durable and indexed.
 * The one owner of the C-STORE / STOW-RS answer; observers of 'stored' cannot change it.
 */
import { EventEmitter } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, openSync, readSync, closeSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Db } from './database';
import type { Logger } from '../logging/logger';
import type { BatchingStoredListener, InstanceHeader, InstanceStoredEvent, StoredInstance } from './instance-types';
import { BufferSource, ScanError, type ByteSource } from '../dicom/dataset-scan';
import { readFileMeta, type FileMeta } from '../dicom/part10';
import { Status } from '../dicom/status';
import { TransferSyntax, isValidUid } from '../dicom/uids';
import { invalid, validateInstance, type InvalidInstance } from './instance-validation';
import { DirectorySyncer, placeDurably } from './durable-write';
import { FreeSpaceMonitor, isStorageFull } from './free-space';
import { SpoolWriter } from './spool-writer';
import { sha256File } from '../util/sha256-file';
import { identityMismatch, identityOf, type PatientIdentity } from './patient-identity';
import { errorMessage } from '../util/error-message';

export interface IngestContext {
  calledAeTitle: string;
  callingAeTitle: string;
  via: 'dimse' | 'stow';
  remoteAddress?: string;
  /** Retrieved by the priors stage (C-GET, WADO-RS) as a patient's other study: passed on in 'stored'. */
  prior?: boolean;
}

export interface IngestOptions {
  /** sha256 / size of the spooled file when its writer computed them. */
  sha256?: string;
  size?: number;
  /** True when the spooled file's data is already fsynced. */
  dataSynced?: boolean;
  /** From the C-STORE command. */
  affectedSopClassUid?: string;
  affectedSopInstanceUid?: string;
  /** The temp file's bytes when the caller still holds them (validation then reads no file). */
  bytes?: Buffer;
  /**
   * The temp file, still open for writing, with data not yet synced: after the rename its data and the
   * directory entry are synced together (one journal commit). The caller closes it after ingestFile.
   */
  openFd?: number;
  /** Emit 'stored' on the next turn of the event loop, after the caller has answered the sender. */
  deferNotify?: boolean;
  /** STOW-RS to /studies/{uid}: the instance must belong to this study. */
  expectedStudyInstanceUid?: string;
  /** An admin released it from quarantine: stored in its study whatever its patient identity. */
  releasedFromQuarantine?: boolean;
}

/**
 * `quarantined`: held apart (patient identity differs from its study's, storage.patientIdentityMismatch
 * 'quarantine'): durable, answered as stored, but not indexed with the study and never analysed.
 */
export type IngestOutcome = { ok: true; instance: StoredInstance; duplicate: boolean; quarantined?: boolean } | InvalidInstance;

/** What to do with an instance whose patient identity differs from its study's. */
export type PatientIdentityPolicy = 'refuse' | 'quarantine' | 'accept-newest';

/** Who received a stored file, and how: in its File Meta Information (DIMSE) or beside it (<SOP>.ingress.json). */
export interface IngressRecord {
  calledAeTitle: string;
  callingAeTitle: string;
  via: 'dimse' | 'stow';
  receivedAt: string;
}

export interface QuarantinedInstance {
  sopInstanceUid: string;
  sopClassUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  calledAeTitle: string;
  callingAeTitle: string;
  via: string;
  size: number;
  /** Which attribute differed (no patient data). */
  reason: string;
  receivedAt: string;
}

export interface InstanceStoreOptions {
  db: Db;
  dataDir: string;
  logger: Logger;
  fsync: boolean;
  conflictPolicy: 'reject' | 'replace';
  freeSpaceWatermarkMb: number;
  /** Transfer syntaxes that may be stored (deflate is removed whatever the list says). */
  acceptedTransferSyntaxes: readonly string[];
  /** An instance whose patient identity differs from its study's: refused (default), quarantined, or accepted as a correction. */
  patientIdentityMismatch?: PatientIdentityPolicy;
  /** Calling AE titles (DIMSE) trusted to correct a study's patient identity: their differing instances re-key it. */
  patientIdentityCorrectors?: readonly string[];
}

interface InstanceRow {
  sop_instance_uid: string;
  sop_class_uid: string;
  study_instance_uid: string;
  series_instance_uid: string;
  transfer_syntax_uid: string;
  called_ae_title: string;
  calling_ae_title: string;
  path: string;
  size: number;
  sha256: string;
  received_at: string;
  header_json: string;
}

/** Files up to this size are read into memory for validation; larger ones through a window. */
const IN_MEMORY_LIMIT = 32 * 1024 * 1024;
/** Deferred 'stored' events (C-STOREs already answered) are gathered this long and handed on together. */
const DEFERRED_NOTIFY_MS = 10;

export declare interface InstanceStore {
  on(event: 'stored', listener: (e: InstanceStoredEvent) => void): this;
  emit(event: 'stored', e: InstanceStoredEvent): boolean;
}

export class InstanceStore extends EventEmitter {
  readonly spoolDir: string;
  readonly instancesDir: string;
  readonly acceptedTransferSyntaxes: ReadonlySet<string>;
  private readonly syncer: DirectorySyncer;
  private readonly freeSpace: FreeSpaceMonitor;
  private readonly locks = new Map<string, Promise<unknown>>();
  private pendingRows: Array<{ row: InstanceRow; resolve: () => void; reject: (e: unknown) => void }> = [];
  private flushScheduled = false;
  private readonly indexDb: Db;
  private readonly insertStmt;
  private readonly getStmt;
  private readonly studyStmt;
  private readonly seriesStmt;
  private readonly countStmt;
  private readonly studyIdentityStmt;
  /**
   * Each study's patient identity as last accepted (StudyInstanceUID -> identity), set synchronously when an
   * instance is checked, so that two first instances of one study arriving together are judged in order.
   * Bounded; a study not held here is read from the index.
   */
  private readonly studyIdentities = new Map<string, PatientIdentity>();

  constructor(private readonly opts: InstanceStoreOptions) {
    super();
    this.spoolDir = path.join(opts.dataDir, 'spool', 'tmp');
    this.instancesDir = path.join(opts.dataDir, 'instances');
    this.acceptedTransferSyntaxes = new Set(opts.acceptedTransferSyntaxes.filter((t) => t !== TransferSyntax.DeflatedExplicitVRLittleEndian));
    this.syncer = new DirectorySyncer(opts.fsync);
    this.freeSpace = new FreeSpaceMonitor(opts.dataDir, opts.freeSpaceWatermarkMb * 1024 * 1024);
    // Index writes go through their own connection with synchronous=NORMAL (WAL): a commit lost to a power
    // failure is rebuilt by startupRecovery from the instance files, which are fsynced before any Success.
    // This saves one WAL fsync per instance on the C-STORE path. In-memory databases share the given one.
    this.indexDb = opts.db.memory ? opts.db : new Database(opts.db.name);
    if (this.indexDb !== opts.db) {
      this.indexDb.pragma('busy_timeout = 5000');
      this.indexDb.pragma('synchronous = NORMAL');
    }
    this.insertStmt = this.indexDb.prepare(`INSERT OR REPLACE INTO instances
      (sop_instance_uid, sop_class_uid, study_instance_uid, series_instance_uid, transfer_syntax_uid, called_ae_title,
       calling_ae_title, path, size, sha256, received_at, header_json)
      VALUES (@sop_instance_uid, @sop_class_uid, @study_instance_uid, @series_instance_uid, @transfer_syntax_uid,
       @called_ae_title, @calling_ae_title, @path, @size, @sha256, @received_at, @header_json)`);
    this.getStmt = opts.db.prepare('SELECT * FROM instances WHERE sop_instance_uid = ?');
    this.studyStmt = opts.db.prepare('SELECT * FROM instances WHERE study_instance_uid = ? ORDER BY series_instance_uid, received_at');
    this.seriesStmt = opts.db.prepare('SELECT * FROM instances WHERE series_instance_uid = ? ORDER BY received_at');
    this.countStmt = opts.db.prepare('SELECT COUNT(*) AS n FROM instances');
    this.studyIdentityStmt = this.indexDb.prepare('SELECT header_json FROM instances WHERE study_instance_uid = ? ORDER BY received_at DESC LIMIT 1');
  }

  get quarantineDir(): string {
    return path.join(this.opts.dataDir, 'quarantine');
  }

  /** Creates the store's directories, removes abandoned temp files and indexes renamed-but-unindexed files. */
  async startupRecovery(defaults: { calledAeTitle: string }): Promise<{ removedTempFiles: number; reindexed: number }> {
    await fsp.mkdir(this.spoolDir, { recursive: true });
    await fsp.mkdir(this.instancesDir, { recursive: true });
    let removedTempFiles = 0;
    for (const name of await fsp.readdir(this.spoolDir)) {
      await fsp.rm(path.join(this.spoolDir, name), { force: true, recursive: true });
      removedTempFiles += 1;
    }
    let reindexed = 0;
    for (const study of await readdirSafe(this.instancesDir)) {
      for (const series of await readdirSafe(path.join(this.instancesDir, study))) {
        const names = await readdirSafe(path.join(this.instancesDir, study, series));
        const present = new Set(names);
        for (const file of names) {
          if (file.endsWith('.ingress.json') && !present.has(file.replace(/\.ingress\.json$/, '.dcm'))) {
            // Written before its file's rename, which a crash prevented: nothing was acknowledged.
            await fsp.rm(path.join(this.instancesDir, study, series, file), { force: true });
            removedTempFiles += 1;
            continue;
          }
          if (!file.endsWith('.dcm')) continue;
          const sop = file.slice(0, -4);
          if (this.getStmt.get(sop)) continue;
          const full = path.join(this.instancesDir, study, series, file);
          const indexed = await this.reindexFile(full, defaults.calledAeTitle);
          if (indexed) reindexed += 1;
        }
      }
    }
    if (removedTempFiles || reindexed) this.opts.logger.info('instance store recovered', { removedTempFiles, reindexed });
    return { removedTempFiles, reindexed };
  }

  /**
   * Indexes a stored file that the index lost (power loss before its commit): with the receiving AE title,
   * calling AE title and ingress from its File Meta Information (Receiving / Sending Application Entity
   * Title, written by the DIMSE receivers; the time is the file's) or from its <SOP>.ingress.json sidecar
   * (STOW-RS, and files stored before the File Meta carried it); for a file with neither, the first local AE
   * title and the file meta's Source AE.
   */
  private async reindexFile(full: string, calledAeTitle: string): Promise<boolean> {
    const src = await openSource(full);
    try {
      const v = validateInstance(src.source, { acceptedTransferSyntaxes: this.acceptedTransferSyntaxes });
      if (!v.ok) {
        this.opts.logger.warn('stored file failed validation at recovery; left unindexed', { file: path.relative(this.opts.dataDir, full), reason: v.reason });
        return false;
      }
      const meta = v.fileMeta;
      const sourceAe = meta.sourceApplicationEntityTitle ?? 'UNKNOWN';
      const stat = await fsp.stat(full);
      const ingress = (await readIngress(sidecarPathOf(full))) ?? ingressFromFileMeta(meta, stat.mtime);
      const ctx: IngestContext = ingress
        ? { calledAeTitle: ingress.calledAeTitle, callingAeTitle: ingress.callingAeTitle, via: ingress.via }
        : { calledAeTitle, callingAeTitle: sourceAe, via: 'dimse' };
      if (!ingress) this.opts.logger.warn('stored file has no ingress record; indexed under the first local AE title', { file: path.relative(this.opts.dataDir, full), calledAeTitle });
      await this.indexRow(this.rowOf(v.header, v.transferSyntaxUid, full, stat.size, await sha256File(full), ctx, ingress?.receivedAt ?? stat.mtime.toISOString()));
      return true;
    } finally {
      src.close();
    }
  }

  /**
   * The store's index connection (synchronous=NORMAL, WAL): for bookkeeping that startup recovery can
   * rebuild from the instances index (the study assembler's per-instance record). The shared one in memory.
   */
  get indexConnection(): Db {
    return this.indexDb;
  }

  /** Whether spooled files are fdatasynced before they are stored (storage.fsync). */
  get fsyncEnabled(): boolean {
    return this.opts.fsync;
  }

  /** A fresh temp path in the spool directory. */
  spoolPath(): string {
    return path.join(this.spoolDir, `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}.part`);
  }

  /** A writer that spools one instance into a fresh temp file (see SpoolWriter). */
  createSpoolWriter(prefix?: Buffer, maxBytes?: number, retainUpTo = 0): SpoolWriter {
    return new SpoolWriter(this.spoolPath(), { prefix, syncData: this.opts.fsync, maxBytes, retainUpTo });
  }

  /** Instances up to this size are validated from memory when the writer retained them. */
  static readonly IN_MEMORY_LIMIT = IN_MEMORY_LIMIT;

  /** A failure outcome when free space is below the watermark (checked before receiving, and again before storing). */
  async checkFreeSpace(incomingBytes = 0): Promise<InvalidInstance | undefined> {
    try {
      if (await this.freeSpace.belowWatermark(incomingBytes)) {
        return invalid(Status.OutOfResources, 'storage below its free space watermark', 507);
      }
    } catch (err) {
      this.opts.logger.error('free space check failed', { error: String(err) });
      return invalid(Status.OutOfResources, 'free space unknown', 507);
    }
    return undefined;
  }

  /**
   * Validates, stores and indexes the Part 10 file at `tempPath` (in the spool directory). The temp file is
   * consumed: moved into place on success, removed otherwise. Never throws; failures become outcomes.
   */
  async ingestFile(tempPath: string, ctx: IngestContext, opts: IngestOptions = {}): Promise<IngestOutcome> {
    try {
      const outcome = await this.ingestInner(tempPath, ctx, opts);
      if (!outcome.ok) await fsp.rm(tempPath, { force: true });
      return outcome;
    } catch (err) {
      await fsp.rm(tempPath, { force: true }).catch(() => undefined);
      this.opts.logger.error('ingest failed', { error: errorMessage(err), via: ctx.via, callingAeTitle: ctx.callingAeTitle });
      if (isStorageFull(err)) return invalid(Status.OutOfResources, 'storage full', 507);
      return invalid(Status.ProcessingFailure, 'internal error while storing', 500);
    }
  }

  private async ingestInner(tempPath: string, ctx: IngestContext, opts: IngestOptions): Promise<IngestOutcome> {
    const size = opts.size ?? (await fsp.stat(tempPath)).size;
    const space = await this.checkFreeSpace(size);
    if (space) return space;
    const src = opts.bytes && opts.bytes.length === size ? { source: new BufferSource(opts.bytes), close: () => undefined } : await openSource(tempPath);
    let v;
    try {
      v = validateInstance(src.source, {
        acceptedTransferSyntaxes: this.acceptedTransferSyntaxes,
        affectedSopClassUid: opts.affectedSopClassUid,
        affectedSopInstanceUid: opts.affectedSopInstanceUid,
      });
    } finally {
      src.close();
    }
    if (!v.ok) return v;
    const header = v.header;
    if (opts.expectedStudyInstanceUid !== undefined && header.StudyInstanceUID !== opts.expectedStudyInstanceUid) {
      return invalid(Status.DataSetDoesNotMatchSopClass, 'StudyInstanceUID differs from the study in the request', 409, {
        sopClassUid: header.SOPClassUID,
        sopInstanceUid: header.SOPInstanceUID,
      });
    }
    const sha256 = opts.sha256 ?? (await sha256File(tempPath));
    // One ingest per SOP Instance UID at a time (duplicates arriving concurrently are decided in order).
    return this.withLock(header.SOPInstanceUID, async () => {
      const identity = this.checkIdentity(header, ctx, opts);
      if (identity.kind === 'refuse') {
        this.opts.logger.warn('instance refused: patient identity differs from its study', {
          studyInstanceUid: header.StudyInstanceUID, sopInstanceUid: header.SOPInstanceUID, differs: identity.differs, callingAeTitle: ctx.callingAeTitle, via: ctx.via,
        });
        return invalid(Status.PatientIdentityMismatch, `patient identity differs from the study's (${identity.differs})`, 409, {
          sopClassUid: header.SOPClassUID,
          sopInstanceUid: header.SOPInstanceUID,
        });
      }
      if (identity.kind === 'quarantine') return this.quarantine(tempPath, header, v.fileMeta, ctx, size, sha256, identity.differs, opts);
      try {
        const outcome = await this.place(tempPath, header, v.transferSyntaxUid, v.fileMeta, ctx, size, sha256, opts, identity.corrected === true);
        if (!outcome.ok) identity.undo();
        return outcome;
      } catch (err) {
        identity.undo();
        throw err;
      }
    });
  }

  /**
   * Judges the instance's patient identity against its study's (the last accepted, from memory or the
   * index). The study's identity is claimed synchronously (no await between the read and the claim);
   * `undo` gives a claim back when the instance is then not stored.
   */
  private checkIdentity(
    header: InstanceHeader,
    ctx: IngestContext,
    opts: IngestOptions,
  ): { kind: 'accept'; undo: () => void; corrected?: boolean } | { kind: 'refuse'; differs: string } | { kind: 'quarantine'; differs: string } {
    const study = header.StudyInstanceUID;
    const mine = identityOf(header);
    let known = this.studyIdentities.get(study);
    if (!known) {
      const row = this.studyIdentityStmt.get(study) as { header_json: string } | undefined;
      if (row) known = identityOf(JSON.parse(row.header_json) as InstanceHeader);
    }
    const claim = (): { kind: 'accept'; undo: () => void } => {
      if (this.studyIdentities.size >= 10000) this.studyIdentities.clear();
      const before = this.studyIdentities.get(study);
      this.studyIdentities.set(study, mine);
      return {
        kind: 'accept',
        undo: () => {
          if (this.studyIdentities.get(study) !== mine) return;
          if (before) this.studyIdentities.set(study, before);
          else this.studyIdentities.delete(study);
        },
      };
    };
    if (!known) return claim();
    const differs = identityMismatch(known, mine);
    if (!differs) return { kind: 'accept', undo: () => undefined };
    if (opts.releasedFromQuarantine) {
      this.opts.logger.warn('instance released from quarantine into a study of another patient identity', { studyInstanceUid: study, sopInstanceUid: header.SOPInstanceUID, differs });
      return { kind: 'accept', undo: () => undefined };
    }
    const policy = this.opts.patientIdentityMismatch ?? 'refuse';
    const trusted = ctx.via === 'dimse' && (this.opts.patientIdentityCorrectors ?? []).includes(ctx.callingAeTitle);
    if (policy === 'accept-newest' || trusted) {
      this.opts.logger.warn('patient identity of a study corrected: the study is re-keyed to the newest instance', {
        studyInstanceUid: study, sopInstanceUid: header.SOPInstanceUID, differs, callingAeTitle: ctx.callingAeTitle, rule: trusted ? 'patientIdentityCorrectors' : 'accept-newest',
      });
      this.identityCorrections += 1;
      return { ...claim(), corrected: true };
    }
    return policy === 'quarantine' ? { kind: 'quarantine', differs } : { kind: 'refuse', differs };
  }

  /** Instances whose identity corrected their study's (accept-newest or a trusted corrector), since start. */
  identityCorrections = 0;

  private async place(
    tempPath: string,
    header: InstanceHeader,
    ts: string,
    fileMeta: FileMeta,
    ctx: IngestContext,
    size: number,
    sha256: string,
    opts: IngestOptions,
    identityCorrected: boolean,
  ): Promise<IngestOutcome> {
    let superseded: { kept: string; existingPath: string } | undefined;
    {
      const existing = this.getStmt.get(header.SOPInstanceUID) as InstanceRow | undefined;
      if (existing) {
        const existingPath = path.join(this.opts.dataDir, existing.path);
        const same = existing.sha256 === sha256 || (await datasetDigest(existingPath).catch(() => '')) === (await datasetDigest(tempPath));
        if (same) {
          await fsp.rm(tempPath, { force: true });
          const instance = toStoredInstance(existing, this.opts.dataDir);
          this.notifyAfter({ instance, duplicate: true, via: ctx.via, ...(ctx.prior ? { prior: true } : {}) }, opts.deferNotify);
          return { ok: true as const, instance, duplicate: true };
        }
        if (this.opts.conflictPolicy === 'reject') {
          return invalid(Status.DuplicateWithDifferentContent, 'a different object is stored under this SOPInstanceUID', 409, {
            sopClassUid: header.SOPClassUID,
            sopInstanceUid: header.SOPInstanceUID,
          });
        }
        // 'replace': the old file stays where it is (and is kept under a second name) until the new one is
        // durable: the new file is renamed over it, never deleted first, so a failure to place the new one
        // leaves the acknowledged old instance in place and indexed.
        const kept = `${existingPath}.superseded-${Date.now()}`;
        await fsp.link(existingPath, kept).then(
          () => (superseded = { kept, existingPath }),
          (err: unknown) => this.opts.logger.warn('could not keep the superseded file', { error: errorMessage(err) }),
        );
      }
      const finalPath = this.pathFor(header);
      const receivedAt = new Date().toISOString();
      try {
        await placeDurably(tempPath, finalPath, this.syncer, {
          syncData: this.opts.fsync && !opts.dataSynced,
          openFd: opts.openFd,
          sidecar: sidecarFor(finalPath, fileMeta, ctx, receivedAt),
        });
      } catch (err) {
        // The new file was renamed over the old one but is not durable (and was removed): the old, still
        // indexed, instance goes back to its place.
        const s = superseded as { kept: string; existingPath: string } | undefined;
        if (s) {
          // rename over is atomic; when both names still are the same file it changes nothing, and the spare
          // name is then removed.
          await fsp.rename(s.kept, s.existingPath).catch(() => undefined);
          await fsp.rm(s.kept, { force: true }).catch(() => undefined);
        }
        throw err;
      }
      const row = this.rowOf(header, ts, finalPath, size, sha256, ctx, receivedAt);
      await this.indexRow(row);
      const instance = toStoredInstance(row, this.opts.dataDir);
      this.notifyAfter({ instance, duplicate: false, via: ctx.via, ...(ctx.prior ? { prior: true } : {}), ...(identityCorrected ? { identityCorrected: true } : {}) }, opts.deferNotify);
      return { ok: true as const, instance, duplicate: false };
    }
  }

  /** Holds an instance apart in <dataDir>/quarantine (durable, listed by the API, never analysed). */
  private async quarantine(
    tempPath: string,
    header: InstanceHeader,
    fileMeta: FileMeta,
    ctx: IngestContext,
    size: number,
    sha256: string,
    differs: string,
    opts: IngestOptions,
  ): Promise<IngestOutcome> {
    const finalPath = path.join(this.quarantineDir, `${header.SOPInstanceUID}.dcm`);
    const receivedAt = new Date().toISOString();
    await placeDurably(tempPath, finalPath, this.syncer, {
      syncData: this.opts.fsync && !opts.dataSynced,
      openFd: opts.openFd,
      sidecar: sidecarFor(finalPath, fileMeta, ctx, receivedAt),
    });
    this.opts.db
      .prepare(`INSERT OR REPLACE INTO quarantine (sop_instance_uid, sop_class_uid, study_instance_uid, series_instance_uid, called_ae_title,
        calling_ae_title, via, path, size, reason, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(header.SOPInstanceUID, header.SOPClassUID, header.StudyInstanceUID, header.SeriesInstanceUID, ctx.calledAeTitle, ctx.callingAeTitle, ctx.via, path.relative(this.opts.dataDir, finalPath), size, `${differs} differs from the study's`, receivedAt);
    this.opts.logger.warn('instance quarantined: patient identity differs from its study', {
      studyInstanceUid: header.StudyInstanceUID, sopInstanceUid: header.SOPInstanceUID, differs, callingAeTitle: ctx.callingAeTitle, via: ctx.via,
    });
    const row = this.rowOf(header, '', finalPath, size, sha256, ctx, receivedAt);
    return { ok: true as const, instance: toStoredInstance(row, this.opts.dataDir), duplicate: false, quarantined: true };
  }

  listQuarantine(): QuarantinedInstance[] {
    const rows = this.opts.db.prepare('SELECT * FROM quarantine ORDER BY received_at').all() as Array<Record<string, string | number>>;
    return rows.map((r) => ({
      sopInstanceUid: String(r.sop_instance_uid),
      sopClassUid: String(r.sop_class_uid),
      studyInstanceUid: String(r.study_instance_uid),
      seriesInstanceUid: String(r.series_instance_uid),
      calledAeTitle: String(r.called_ae_title),
      callingAeTitle: String(r.calling_ae_title),
      via: String(r.via),
      size: Number(r.size),
      reason: String(r.reason),
      receivedAt: String(r.received_at),
    }));
  }

  /**
   * Stores a quarantined instance in its study (an admin decided it is the same patient) and removes it
   * from quarantine; undefined when no such instance is quarantined. The quarantined copy is removed only
   * after the instance is stored.
   */
  async releaseFromQuarantine(sopInstanceUid: string): Promise<IngestOutcome | undefined> {
    const row = this.opts.db.prepare('SELECT * FROM quarantine WHERE sop_instance_uid = ?').get(sopInstanceUid) as Record<string, string> | undefined;
    if (!row) return undefined;
    const file = path.join(this.opts.dataDir, row.path!);
    const temp = this.spoolPath();
    await fsp.mkdir(this.spoolDir, { recursive: true });
    await fsp.copyFile(file, temp);
    const outcome = await this.ingestFile(
      temp,
      { calledAeTitle: row.called_ae_title!, callingAeTitle: row.calling_ae_title!, via: row.via === 'stow' ? 'stow' : 'dimse' },
      { releasedFromQuarantine: true },
    );
    if (outcome.ok) await this.deleteFromQuarantine(sopInstanceUid);
    return outcome;
  }

  /** Deletes a quarantined instance (file, sidecar and row); false when none is quarantined under that UID. */
  async deleteFromQuarantine(sopInstanceUid: string): Promise<boolean> {
    const row = this.opts.db.prepare('SELECT path FROM quarantine WHERE sop_instance_uid = ?').get(sopInstanceUid) as { path: string } | undefined;
    if (!row) return false;
    this.opts.db.prepare('DELETE FROM quarantine WHERE sop_instance_uid = ?').run(sopInstanceUid);
    const file = path.join(this.opts.dataDir, row.path);
    await fsp.rm(file, { force: true });
    await fsp.rm(sidecarPathOf(file), { force: true });
    return true;
  }

  private pathFor(h: InstanceHeader): string {
    // The UIDs were validated (digits and dots, <= 64 characters), so they are safe path components.
    for (const uid of [h.StudyInstanceUID, h.SeriesInstanceUID, h.SOPInstanceUID]) if (!isValidUid(uid)) throw new Error('invalid UID in path');
    return path.join(this.instancesDir, h.StudyInstanceUID, h.SeriesInstanceUID, `${h.SOPInstanceUID}.dcm`);
  }

  private rowOf(h: InstanceHeader, ts: string, finalPath: string, size: number, sha256: string, ctx: IngestContext, receivedAt: string): InstanceRow {
    return {
      sop_instance_uid: h.SOPInstanceUID,
      sop_class_uid: h.SOPClassUID,
      study_instance_uid: h.StudyInstanceUID,
      series_instance_uid: h.SeriesInstanceUID,
      transfer_syntax_uid: ts,
      called_ae_title: ctx.calledAeTitle,
      calling_ae_title: ctx.callingAeTitle,
      path: path.relative(this.opts.dataDir, finalPath),
      size,
      sha256,
      received_at: receivedAt,
      header_json: JSON.stringify(h),
    };
  }

  /**
   * Group commit of index rows: a row arriving while none is queued is committed at once (a sequential
   * sender waits for no event-loop turn); rows queued while a flush is pending share one transaction.
   */
  private indexRow(row: InstanceRow): Promise<void> {
    if (!this.flushScheduled && this.pendingRows.length === 0 && !this.recentlyFlushed) {
      try {
        this.insertStmt.run(row);
        this.markFlushed();
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise((resolve, reject) => {
      this.pendingRows.push({ row, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushRows());
      }
    });
  }

  /** Whether a row was committed in this event-loop turn (later ones in the same turn are batched). */
  private recentlyFlushed = false;
  private markFlushed(): void {
    if (this.recentlyFlushed) return;
    this.recentlyFlushed = true;
    setImmediate(() => (this.recentlyFlushed = false));
  }

  private flushRows(): void {
    this.flushScheduled = false;
    const batch = this.pendingRows;
    this.pendingRows = [];
    try {
      this.indexDb.transaction(() => {
        for (const b of batch) this.insertStmt.run(b.row);
      })();
      batch.forEach((b) => b.resolve());
    } catch (err) {
      batch.forEach((b) => b.reject(err));
    }
  }

  /**
   * Observers run after the caller answered when deferred (the study assembler's transaction is then off
   * the C-STORE path); a crash in between is repaired by the assembler's reconcile at startup.
   */
  private notifyAfter(e: InstanceStoredEvent, defer: boolean | undefined): void {
    if (!defer) {
      this.notify([e]);
      return;
    }
    // Deferred events are gathered for a few milliseconds and handed on together: a listener taking
    // batches (the study assembler) records them in one transaction instead of one per instance.
    this.deferredEvents.push(e);
    if (this.deferredTimer === undefined) this.deferredTimer = setTimeout(() => this.notifyDeferred(), DEFERRED_NOTIFY_MS);
  }

  private deferredEvents: InstanceStoredEvent[] = [];
  private deferredTimer: NodeJS.Timeout | undefined;

  /**
   * Hands on the gathered deferred events now (the DIMSE fast path calls it when an association is released
   * or closes, so its instances' events precede the A-RELEASE-RP).
   */
  notifyPending(): void {
    this.notifyDeferred();
  }

  private notifyDeferred(): void {
    if (this.deferredTimer !== undefined) clearTimeout(this.deferredTimer);
    this.deferredTimer = undefined;
    const batch = this.deferredEvents;
    this.deferredEvents = [];
    if (batch.length > 0) this.notify(batch);
  }

  private notify(events: InstanceStoredEvent[]): void {
    for (const l of this.listeners('stored') as BatchingStoredListener[]) {
      if (l.storedBatch && events.length > 1) this.callListener(() => l.storedBatch!(events));
      else for (const e of events) this.callListener(() => l(e));
    }
  }

  private callListener(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.opts.logger.error('stored listener failed', { error: String(err) });
    }
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }

  getInstance(sopInstanceUid: string): StoredInstance | undefined {
    const row = this.getStmt.get(sopInstanceUid) as InstanceRow | undefined;
    return row ? toStoredInstance(row, this.opts.dataDir) : undefined;
  }

  listStudyInstances(studyInstanceUid: string): StoredInstance[] {
    const rows = this.studyStmt.all(studyInstanceUid) as InstanceRow[];
    return rows.map((r) => toStoredInstance(r, this.opts.dataDir));
  }

  listSeriesInstances(seriesInstanceUid: string): StoredInstance[] {
    const rows = this.seriesStmt.all(seriesInstanceUid) as InstanceRow[];
    return rows.map((r) => toStoredInstance(r, this.opts.dataDir));
  }

  /** Instances held in quarantine (for /metrics). */
  quarantineCount(): number {
    return (this.opts.db.prepare('SELECT COUNT(*) AS n FROM quarantine').get() as { n: number }).n;
  }

  /** Instances in the index (for /metrics). */
  count(): number {
    return (this.countStmt.get() as { n: number }).n;
  }

  /**
   * Retention: removes the indexed instances of one study reception (rows, then files, then empty series
   * and study directories). Returns what went; an instance stored meanwhile (not in the list read first)
   * stays. The caller decides that the study may go (src/admin/retention.ts).
   */
  async purgeStudyInstances(studyInstanceUid: string, calledAeTitle: string): Promise<{ instances: number; bytes: number; accessionNumber: string | null }> {
    await this.flush();
    const rows = this.opts.db
      .prepare('SELECT sop_instance_uid, path, size, header_json FROM instances WHERE study_instance_uid = ? AND called_ae_title = ?')
      .all(studyInstanceUid, calledAeTitle) as { sop_instance_uid: string; path: string; size: number; header_json: string }[];
    let accessionNumber: string | null = null;
    for (const r of rows) {
      try {
        const a = (JSON.parse(r.header_json) as { AccessionNumber?: unknown }).AccessionNumber;
        if (typeof a === 'string' && a !== '') accessionNumber = a;
      } catch {
        // a damaged header only loses the accession number of the event
      }
      if (accessionNumber) break;
    }
    const del = this.opts.db.prepare('DELETE FROM instances WHERE sop_instance_uid = ? AND study_instance_uid = ? AND called_ae_title = ?');
    this.opts.db.transaction(() => {
      for (const r of rows) del.run(r.sop_instance_uid, studyInstanceUid, calledAeTitle);
    })();
    let bytes = 0;
    const dirs = new Set<string>();
    for (const r of rows) {
      const full = path.join(this.opts.dataDir, r.path);
      bytes += r.size;
      await fsp.rm(full, { force: true });
      // superseded copies (conflictPolicy 'replace') of the same instance go with it
      const dir = path.dirname(full);
      dirs.add(dir);
      for (const name of await readdirSafe(dir)) if (name.startsWith(`${path.basename(full)}.superseded-`)) await fsp.rm(path.join(dir, name), { force: true });
    }
    for (const dir of dirs) await fsp.rmdir(dir).catch(() => undefined);
    for (const dir of new Set([...dirs].map((d) => path.dirname(d)))) await fsp.rmdir(dir).catch(() => undefined);
    return { instances: rows.length, bytes, accessionNumber };
  }

  /** Resolves when queued index rows are written (used at shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.locks.values()]);
    if (this.pendingRows.length > 0) this.flushRows();
    this.notifyDeferred();
  }

  /** Flushes and closes the store's own index connection (call before closing the shared database). */
  async close(): Promise<void> {
    await this.flush();
    if (this.indexDb !== this.opts.db) this.indexDb.close();
  }
}

function toStoredInstance(r: InstanceRow, dataDir: string): StoredInstance {
  return {
    sopInstanceUid: r.sop_instance_uid,
    sopClassUid: r.sop_class_uid,
    studyInstanceUid: r.study_instance_uid,
    seriesInstanceUid: r.series_instance_uid,
    transferSyntaxUid: r.transfer_syntax_uid,
    calledAeTitle: r.called_ae_title,
    callingAeTitle: r.calling_ae_title,
    path: path.join(dataDir, r.path),
    size: r.size,
    sha256: r.sha256,
    receivedAt: r.received_at,
    header: JSON.parse(r.header_json) as InstanceHeader,
  };
}

/**
 * The ingress record to write beside a stored file, unless its File Meta Information already carries it:
 * the DIMSE receivers write the calling and called AE titles into (0002,0017) / (0002,0018) of the file
 * meta they put in front of the data set, so those files need no second file (nor its create and fdatasync).
 */
function sidecarFor(finalPath: string, meta: FileMeta, ctx: IngestContext, receivedAt: string): { path: string; content: Buffer } | undefined {
  if (ctx.via === 'dimse' && meta.receivingApplicationEntityTitle === ctx.calledAeTitle && (meta.sendingApplicationEntityTitle ?? '') === ctx.callingAeTitle) return undefined;
  const ingress: IngressRecord = { calledAeTitle: ctx.calledAeTitle, callingAeTitle: ctx.callingAeTitle, via: ctx.via, receivedAt };
  return { path: sidecarPathOf(finalPath), content: Buffer.from(JSON.stringify(ingress)) };
}

/** The ingress a DIMSE receiver wrote into the File Meta Information; undefined when it has none. */
function ingressFromFileMeta(meta: FileMeta, mtime: Date): IngressRecord | undefined {
  if (!meta.receivingApplicationEntityTitle) return undefined;
  return {
    calledAeTitle: meta.receivingApplicationEntityTitle,
    callingAeTitle: meta.sendingApplicationEntityTitle ?? meta.sourceApplicationEntityTitle ?? '',
    via: 'dimse',
    receivedAt: mtime.toISOString(),
  };
}

/** The ingress record beside a stored file: <dir>/<SOP>.ingress.json. */
export function sidecarPathOf(file: string): string {
  return file.replace(/\.dcm$/, '') + '.ingress.json';
}

async function readIngress(p: string): Promise<IngressRecord | undefined> {
  try {
    const r = JSON.parse(await fsp.readFile(p, 'utf8')) as Partial<IngressRecord>;
    if (typeof r.calledAeTitle !== 'string' || typeof r.callingAeTitle !== 'string' || (r.via !== 'dimse' && r.via !== 'stow')) return undefined;
    return { calledAeTitle: r.calledAeTitle, callingAeTitle: r.callingAeTitle, via: r.via, receivedAt: typeof r.receivedAt === 'string' ? r.receivedAt : new Date(0).toISOString() };
  } catch {
    return undefined;
  }
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    return [];
  }
}

/** A ByteSource over a file: whole in memory when small, a read window otherwise. */
export async function openSource(file: string): Promise<{ source: ByteSource; close: () => void }> {
  const stat = await fsp.stat(file);
  if (stat.size <= IN_MEMORY_LIMIT) {
    const buf = await fsp.readFile(file);
    return { source: new BufferSource(buf), close: () => undefined };
  }
  const fd = openSync(file, 'r');
  const windowSize = 4 * 1024 * 1024;
  let win: { pos: number; buf: Buffer } | undefined;
  const source: ByteSource = {
    length: stat.size,
    read(pos: number, len: number): Buffer {
      if (pos < 0 || len < 0 || pos + len > stat.size) throw new ScanError(`data set truncated: needs bytes ${pos}..${pos + len}, has ${stat.size}`);
      if (len > windowSize) {
        const b = Buffer.alloc(len);
        readSync(fd, b, 0, len, pos);
        return b;
      }
      if (!win || pos < win.pos || pos + len > win.pos + win.buf.length) {
        const size = Math.min(windowSize, stat.size - pos);
        const b = Buffer.alloc(size);
        readSync(fd, b, 0, size, pos);
        win = { pos, buf: b };
      }
      return win.buf.subarray(pos - win.pos, pos - win.pos + len);
    },
  };
  return { source, close: () => closeSync(fd) };
}

/** sha256 of the data set part of a Part 10 file (after the File Meta Information): what the sender sent. */
export async function datasetDigest(file: string): Promise<string> {
  const src = await openSource(file);
  let offset: number;
  try {
    offset = readFileMeta(src.source).datasetOffset;
  } finally {
    src.close();
  }
  const h = createHash('sha256');
  const fh = await fsp.open(file, 'r');
  try {
    for await (const chunk of fh.createReadStream({ start: offset })) h.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return h.digest('hex');
}
