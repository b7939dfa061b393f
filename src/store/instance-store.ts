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
import type { InstanceHeader, InstanceStoredEvent, StoredInstance } from './instance-types';
import { BufferSource, ScanError, type ByteSource } from '../dicom/dataset-scan';
import { readFileMeta } from '../dicom/part10';
import { Status } from '../dicom/status';
import { TransferSyntax, isValidUid } from '../dicom/uids';
import { invalid, validateInstance, type InvalidInstance } from './instance-validation';
import { DirectorySyncer, placeDurably } from './durable-write';
import { FreeSpaceMonitor, isStorageFull } from './free-space';
import { SpoolWriter } from './spool-writer';
import { sha256File } from '../util/sha256-file';
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
}

export type IngestOutcome = { ok: true; instance: StoredInstance; duplicate: boolean } | InvalidInstance;

export interface InstanceStoreOptions {
  db: Db;
  dataDir: string;
  logger: Logger;
  fsync: boolean;
  conflictPolicy: 'reject' | 'replace';
  freeSpaceWatermarkMb: number;
  /** Transfer syntaxes that may be stored (deflate is removed whatever the list says). */
  acceptedTransferSyntaxes: readonly string[];
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
        for (const file of await readdirSafe(path.join(this.instancesDir, study, series))) {
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

  private async reindexFile(full: string, calledAeTitle: string): Promise<boolean> {
    const src = await openSource(full);
    try {
      const v = validateInstance(src.source, { acceptedTransferSyntaxes: this.acceptedTransferSyntaxes });
      if (!v.ok) {
        this.opts.logger.warn('stored file failed validation at recovery; left unindexed', { file: path.relative(this.opts.dataDir, full), reason: v.reason });
        return false;
      }
      const sourceAe = readFileMeta(src.source).sourceApplicationEntityTitle ?? 'UNKNOWN';
      const stat = await fsp.stat(full);
      await this.indexRow(this.rowOf(v.header, v.transferSyntaxUid, full, stat.size, await sha256File(full), { calledAeTitle, callingAeTitle: sourceAe, via: 'dimse' }, stat.mtime.toISOString()));
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
        // 'replace': keep the old file beside the new one, then store the new object.
        await fsp.rename(existingPath, `${existingPath}.superseded-${Date.now()}`).catch(() => undefined);
      }
      const finalPath = this.pathFor(header);
      await placeDurably(tempPath, finalPath, this.syncer, { syncData: this.opts.fsync && !opts.dataSynced, openFd: opts.openFd });
      const row = this.rowOf(header, v.transferSyntaxUid, finalPath, size, sha256, ctx, new Date().toISOString());
      await this.indexRow(row);
      const instance = toStoredInstance(row, this.opts.dataDir);
      this.notifyAfter({ instance, duplicate: false, via: ctx.via, ...(ctx.prior ? { prior: true } : {}) }, opts.deferNotify);
      return { ok: true as const, instance, duplicate: false };
    });
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
    if (defer) setImmediate(() => this.notify(e));
    else this.notify(e);
  }

  private notify(e: InstanceStoredEvent): void {
    for (const l of this.listeners('stored')) {
      try {
        (l as (e: InstanceStoredEvent) => void)(e);
      } catch (err) {
        this.opts.logger.error('stored listener failed', { error: String(err) });
      }
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
