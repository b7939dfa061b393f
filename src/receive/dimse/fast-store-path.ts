/**
 * The C-STORE data path of one association, outside dcmjs-dimse (config.dimse.fastStorePath).
 *
 * Once the association is accepted, every P-DATA-TF PDU on a presentation context of a storage SOP class
 * is handled here: the command set is parsed by hand (implicit VR LE), the data set's PDV values are
 * written to the spool file as they arrive (no accumulation, no copies beyond the PDU framing), and on the
 * last fragment the file is fdatasynced, handed to the InstanceStore (validate, rename, directory fsync,
 * index) and the C-STORE-RSP is sent by us, respecting the peer's maximum PDU length. Success is only ever
 * sent after the store answered ok, i.e. once the instance is durable and indexed.
 *
 * Everything else (association negotiation, C-ECHO, release, abort) still goes to the library, in order:
 * while a store is being finished, later PDUs wait, so a release request never overtakes a response.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, open, openSync, promises as fsp, unlinkSync, writeSync } from 'node:fs';
import { injectFault } from '../../store/fault-injection';
import type { Logger } from '../../logging/logger';
import { InstanceStore, type IngestContext } from '../../store/instance-store';
import { encodeFileMeta } from '../../dicom/part10';
import { Status } from '../../dicom/status';
import { INTERNAL_ERROR, NO_DATA_SET, SOP_CLASS_MISMATCH, ingestReply, spoolFailureReply, type StoreRefusal, type StoreReply } from './store-status';
import { AcceptedStorageSopClasses } from '../../dicom/uids';
import { CommandField, CommandSetError, NoDataSet, encodeCStoreResponse, parseCommandSet, type CommandSet } from './command-set';
import { AbortReason, PDataError, encodeAbort, encodePData, joinPdu, parsePDataParts, pduType, type PduBytes, type PdvParts } from './p-data';

/** A presentation context as negotiated: only accepted contexts are listed. */
export interface NegotiatedContext {
  abstractSyntaxUid: string;
  transferSyntaxUid: string;
}

export interface FastStoreEnvironment {
  store: InstanceStore;
  log: Logger;
  /** Accepted presentation contexts by id (all of them; the storage ones are handled here). */
  contexts: ReadonlyMap<number, NegotiatedContext>;
  /** The peer's Maximum Length (0: unlimited). */
  peerMaxPduLength: number;
  ingestContext: () => IngestContext;
  sourceAeTitle: string;
  /** Writes bytes to the peer. */
  send: (bytes: Buffer[]) => void;
  /** Hands a PDU to dcmjs-dimse. */
  deliver: (pdu: Buffer) => void;
  /** Ends the transport after an A-ABORT was sent. */
  close: () => void;
  /** Called for every PDU handled here (the library's idle timer does not see them). */
  touch: () => void;
  /** Flow control while the spool falls behind the network. */
  pause: () => void;
  resume: () => void;
  /** Where store completions are tracked (graceful stop waits for them). */
  inFlight: Set<Promise<unknown>>;
  /** Largest data set accepted (File Meta prefix included); beyond it 0xA700 and nothing kept. Default: none. */
  maxInstanceBytes?: number;
  /** Free space is checked when a data set starts and again every this many bytes of it. Default 16 MiB. */
  freeSpaceCheckBytes?: number;
  /** Data sets up to this size are gathered in memory before they are written (default RETAIN_LIMIT, at most that). */
  gatherLimit?: number;
}

/** Bytes of a data set also gathered in memory for validation (larger ones are read back in windows). */
const RETAIN_LIMIT = InstanceStore.IN_MEMORY_LIMIT;
/**
 * The gathering buffer is kept for the association's next instance up to this size (a fresh 0.5 MiB buffer
 * per instance costs page faults); larger data sets get one of their own.
 */
const KEEP_BUFFER_LIMIT = 4 * 1024 * 1024;

/** One data set being received. */
interface Receiving {
  presentationContextId: number;
  command: CommandSet;
  /** Set when the data set will be refused: its bytes are read and dropped. */
  refuse?: StoreRefusal;
  path?: string;
  fd?: number;
  hash?: Hash;
  size: number;
  /** A copy of the data set so far (File Meta prefix included) while it fits in RETAIN_LIMIT: bytes 0..size. */
  gathered?: Buffer;
  writeError?: NodeJS.ErrnoException;
  /** Size at which free space is checked next. */
  nextSpaceCheck?: number;
}

/** A spool file created ahead of the next C-STORE (see FastStorePath.prepareSpare). */
interface Spare {
  path: string;
  fd?: number;
  /** Set once the asynchronous create finished (successfully or not). */
  settled: boolean;
  /** Given up (association ended) while the create was still running: close and remove on completion. */
  abandoned: boolean;
  /** Resolves once the create finished and, when abandoned, the file is removed again. */
  done: Promise<void>;
}

type State =
  | { kind: 'idle' }
  | { kind: 'command'; presentationContextId: number; parts: Buffer[]; bytes: number; pdus: PduBytes[] }
  | { kind: 'data'; receiving: Receiving }
  /** A message the library handles (not a C-STORE-RQ) whose PDUs are passed through until its last one. */
  | { kind: 'passthrough'; presentationContextId: number; untilLastData: boolean };

export class FastStorePath {
  private state: State = { kind: 'idle' };
  private busy = false;
  private readonly queue: PduBytes[] = [];
  private closed = false;
  private aborted = false;
  private spare: Spare | undefined;
  /** The gathering buffer of the previous instance, reused by the next (one instance at a time per association). */
  private buffer: Buffer | undefined;

  constructor(private readonly env: FastStoreEnvironment) {
    this.prepareSpare();
  }

  /**
   * Creates the next instance's spool file in the background. Creating a file right after the previous
   * instance's fsyncs blocks for ~1 ms on this kind of file system (journal); done on the thread pool while
   * the sender prepares its next instance, it costs the C-STORE path nothing.
   */
  private prepareSpare(): void {
    if (this.spare || this.closed) return;
    let resolveDone!: () => void;
    const spare: Spare = { path: this.env.store.spoolPath(), settled: false, abandoned: false, done: new Promise<void>((r) => (resolveDone = r)) };
    this.spare = spare;
    open(spare.path, 'wx', 0o640, (err, fd) => {
      spare.settled = true;
      if (err) {
        if (this.spare === spare) this.spare = undefined;
      } else if (spare.abandoned) {
        removeSpoolFile(fd, spare.path);
      } else {
        spare.fd = fd;
      }
      resolveDone();
    });
  }

  /** The prepared spool file when it is ready; otherwise undefined (the caller creates one itself). */
  private takeSpare(): { path: string; fd: number } | undefined {
    const s = this.spare;
    if (!s || s.fd === undefined) return undefined;
    this.spare = undefined;
    return { path: s.path, fd: s.fd };
  }

  /**
   * Removes the prepared spool file: at once when it exists; when its create is still running, the returned
   * promise resolves once it was created and removed again.
   */
  private disposeSpare(): Promise<void> | undefined {
    const s = this.spare;
    this.spare = undefined;
    if (!s) return undefined;
    if (!s.settled) {
      s.abandoned = true;
      return s.done;
    }
    if (s.fd !== undefined) removeSpoolFile(s.fd, s.path);
    return undefined;
  }

  /** Whether PDVs on this context are handled here. */
  private isStorageContext(id: number): boolean {
    const c = this.env.contexts.get(id);
    return c !== undefined && AcceptedStorageSopClasses.has(c.abstractSyntaxUid);
  }

  /** Takes one whole PDU (already length-checked by the PDU guard). */
  push(pdu: PduBytes): void {
    if (this.closed) return;
    if (this.busy) {
      this.queue.push(pdu);
      if (this.queue.length === 8) this.env.pause();
      return;
    }
    const pending = this.handlePdu(pdu);
    if (pending) this.waitFor(pending);
  }

  private waitFor(pending: Promise<void>): void {
    this.busy = true;
    pending.then(
      () => this.drain(),
      (err) => {
        this.env.log.error('C-STORE fast path failed', { error: String(err) });
        this.abort(AbortReason.NotSpecified);
      },
    );
  }

  private drain(): void {
    this.busy = false;
    while (!this.busy && !this.closed && this.queue.length > 0) {
      const pdu = this.queue.shift()!;
      const pending = this.handlePdu(pdu);
      if (pending) this.waitFor(pending);
    }
    if (!this.busy) this.env.resume();
  }

  private handlePdu(pdu: PduBytes): Promise<void> | undefined {
    if (pduType(pdu) !== 0x04) {
      // Release or abort: no further instance comes, so the prepared spool file goes before the library
      // answers (nothing is left in the spool once the peer has its A-RELEASE-RP); the 'stored' events of
      // this association's instances are handed on before it, too.
      this.env.store.notifyPending();
      const spareGone = this.disposeSpare();
      if (spareGone) return spareGone.then(() => this.handleControlPdu(pdu));
      this.handleControlPdu(pdu);
      return undefined;
    }
    const s = this.state;
    if (s.kind === 'passthrough') return this.passThrough(pdu, s);
    let pdvs: PdvParts[];
    try {
      pdvs = parsePDataParts(pdu);
    } catch (err) {
      if (s.kind === 'idle') {
        this.env.deliver(joinPdu(pdu));
        return undefined;
      }
      this.env.log.warn('malformed P-DATA-TF during a C-STORE; aborting', { error: String((err as PDataError).message) });
      this.abort(AbortReason.InvalidPduParameterValue);
      return undefined;
    }
    if (s.kind === 'idle' && !this.isStorageContext(pdvs[0]!.presentationContextId)) {
      this.env.deliver(joinPdu(pdu));
      return undefined;
    }
    this.env.touch();
    return this.handlePdvs(pdu, pdvs, 0);
  }

  private handleControlPdu(pdu: PduBytes): void {
    if (this.state.kind === 'data' || this.state.kind === 'command') {
      // Release or abort in the middle of a message: the partial instance is never answered.
      void this.discardReceiving();
      this.state = { kind: 'idle' };
    }
    this.env.deliver(joinPdu(pdu));
  }

  /** Passes the PDUs of a library-handled message through, until its last fragment. */
  private passThrough(pdu: PduBytes, s: Extract<State, { kind: 'passthrough' }>): undefined {
    this.env.deliver(joinPdu(pdu));
    try {
      for (const p of parsePDataParts(pdu)) {
        if (p.isLast && (!s.untilLastData || !p.isCommand)) this.state = { kind: 'idle' };
      }
    } catch {
      this.state = { kind: 'idle' };
    }
    return undefined;
  }

  private handlePdvs(pdu: PduBytes, pdvs: PdvParts[], from: number): Promise<void> | undefined {
    for (let i = from; i < pdvs.length; i++) {
      const pending = this.handlePdv(pdu, pdvs[i]!);
      if (this.closed) return undefined;
      // PDVs after a completed data set (a sender not waiting for the response) wait for it, in order.
      if (pending) return i + 1 < pdvs.length ? pending.then(() => this.handlePdvs(pdu, pdvs, i + 1)) : pending;
    }
    return undefined;
  }

  private handlePdv(pdu: PduBytes, pdv: PdvParts): Promise<void> | undefined {
    const s = this.state;
    if (s.kind === 'idle' || s.kind === 'command') {
      if (!pdv.isCommand || (s.kind === 'command' && s.presentationContextId !== pdv.presentationContextId) || !this.isStorageContext(pdv.presentationContextId)) {
        this.env.log.warn('unexpected PDV on a storage context; aborting', { presentationContextId: pdv.presentationContextId, isCommand: pdv.isCommand });
        this.abort(AbortReason.UnexpectedPduParameter);
        return undefined;
      }
      const cmd = s.kind === 'command' ? s : { kind: 'command' as const, presentationContextId: pdv.presentationContextId, parts: [], bytes: 0, pdus: [] };
      cmd.parts.push(...pdv.parts);
      cmd.bytes += pdv.length;
      if (cmd.pdus[cmd.pdus.length - 1] !== pdu) cmd.pdus.push(pdu);
      if (cmd.bytes > 64 * 1024) {
        this.env.log.warn('command set longer than 64 KiB; aborting');
        this.abort(AbortReason.InvalidPduParameterValue);
        return undefined;
      }
      if (!pdv.isLast) {
        this.state = cmd;
        return undefined;
      }
      this.state = { kind: 'idle' };
      return this.onCommand(cmd.presentationContextId, cmd.parts.length === 1 ? cmd.parts[0]! : Buffer.concat(cmd.parts), cmd.pdus);
    }
    if (s.kind === 'data') {
      const r = s.receiving;
      if (pdv.isCommand || pdv.presentationContextId !== r.presentationContextId) {
        this.env.log.warn('unexpected PDV during a C-STORE data set; aborting', { presentationContextId: pdv.presentationContextId, isCommand: pdv.isCommand });
        this.abort(AbortReason.UnexpectedPduParameter);
        return undefined;
      }
      for (const part of pdv.parts) this.write(r, part);
      if (!pdv.isLast) return undefined;
      this.state = { kind: 'idle' };
      return this.track(this.complete(r));
    }
    return undefined;
  }

  private onCommand(presentationContextId: number, bytes: Buffer, pdus: PduBytes[]): Promise<void> | undefined {
    let command: CommandSet;
    try {
      command = parseCommandSet(bytes);
    } catch (err) {
      this.env.log.warn('malformed command set on a storage context; aborting', { error: String((err as CommandSetError).message) });
      this.abort(AbortReason.InvalidPduParameterValue);
      return undefined;
    }
    if (command.commandField !== CommandField.CStoreRq) {
      // Not ours: the library answers it as it would have (the PDUs it is made of are handed over whole).
      this.state = { kind: 'passthrough', presentationContextId, untilLastData: command.commandDataSetType !== NoDataSet };
      for (const p of pdus) this.env.deliver(joinPdu(p));
      if (command.commandDataSetType === NoDataSet) this.state = { kind: 'idle' };
      return undefined;
    }
    const receiving = this.begin(presentationContextId, command);
    if (command.commandDataSetType === NoDataSet) {
      receiving.refuse ??= NO_DATA_SET;
      return this.track(this.complete(receiving));
    }
    this.state = { kind: 'data', receiving };
    return undefined;
  }

  /** Decides, before any byte is stored, whether this data set can be accepted, and opens its spool file. */
  private begin(presentationContextId: number, command: CommandSet): Receiving {
    const r: Receiving = { presentationContextId, command, size: 0 };
    const pc = this.env.contexts.get(presentationContextId)!;
    const sopClass = command.affectedSopClassUid ?? '';
    if (!AcceptedStorageSopClasses.has(pc.abstractSyntaxUid) || sopClass !== pc.abstractSyntaxUid) {
      r.refuse = SOP_CLASS_MISMATCH;
      return r;
    }
    if (command.commandDataSetType === NoDataSet) return r;
    const prefix = encodeFileMeta({
      sopClassUid: sopClass,
      sopInstanceUid: command.affectedSopInstanceUid ?? '',
      transferSyntaxUid: pc.transferSyntaxUid,
      sourceAeTitle: this.env.sourceAeTitle,
      receivingAeTitle: this.env.ingestContext().calledAeTitle,
    });
    r.hash = createHash('sha256');
    r.gathered = this.buffer ?? Buffer.allocUnsafe(1024 * 1024);
    this.buffer = undefined;
    const spare = this.takeSpare();
    if (spare) {
      r.path = spare.path;
      r.fd = spare.fd;
    } else {
      r.path = this.env.store.spoolPath();
      try {
        r.fd = openSync(r.path, 'wx', 0o640);
      } catch (err) {
        r.writeError = err as NodeJS.ErrnoException;
        r.path = undefined;
        return r;
      }
    }
    this.write(r, prefix);
    return r;
  }

  /**
   * Writes one fragment into the spool file and hashes it. Synchronous: a page-cache write of at most one
   * PDU takes microseconds, while a thread-pool round trip per fragment costs milliseconds of latency under
   * load (measured here: one write of the whole data set on the thread pool and WebCrypto's sha256 there
   * cost more CPU per instance than this). While the data set fits in RETAIN_LIMIT it is also copied into
   * the association's gathering buffer, from which it is validated (no read-back, no concatenation).
   */
  private write(r: Receiving, value: Buffer): void {
    if (r.refuse || r.writeError || r.fd === undefined || value.length === 0) return;
    const max = this.env.maxInstanceBytes;
    if (max !== undefined && r.size + value.length > max) {
      this.giveUp(r, { status: Status.OutOfResources, reason: `instance larger than ${formatBytes(max)}` });
      return;
    }
    if (r.nextSpaceCheck === undefined || r.size >= r.nextSpaceCheck) {
      r.nextSpaceCheck = r.size + (this.env.freeSpaceCheckBytes ?? 16 * 1024 * 1024);
      void this.env.store.checkFreeSpace(0).then((space) => {
        if (space && this.state.kind === 'data' && this.state.receiving === r) this.giveUp(r, { status: space.status, reason: space.reason });
      });
    }
    try {
      injectFault('write', r.path!);
      let off = 0;
      while (off < value.length) off += writeSync(r.fd, value, off, value.length - off);
    } catch (err) {
      r.writeError = err as NodeJS.ErrnoException;
      return;
    }
    r.hash!.update(value);
    const end = r.size + value.length;
    if (r.gathered) {
      const limit = Math.min(this.env.gatherLimit ?? RETAIN_LIMIT, RETAIN_LIMIT);
      if (end > limit) this.releaseBuffer(r);
      else {
        if (end > r.gathered.length) {
          const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(end, 2 * r.gathered.length)));
          r.gathered.copy(grown, 0, 0, r.size);
          r.gathered = grown;
        }
        value.copy(r.gathered, r.size);
      }
    }
    r.size = end;
  }

  /**
   * The data set being received will be refused (too large, disk short of space): its spool file goes at
   * once, the rest of its bytes are read and dropped, and it is answered with `refuse` after its last
   * fragment. Nothing stored before is touched.
   */
  private giveUp(r: Receiving, refuse: { status: number; reason: string }): void {
    if (r.refuse) return;
    r.refuse = refuse;
    this.releaseBuffer(r);
    const fd = r.fd;
    const file = r.path;
    r.fd = undefined;
    r.path = undefined;
    if (fd !== undefined && file) removeSpoolFile(fd, file);
  }

  private track(p: Promise<void>): Promise<void> {
    const inFlight = this.env.inFlight;
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /** The last fragment arrived: make the file durable, store it, answer. */
  private async complete(r: Receiving): Promise<void> {
    const { status, reason } = await this.store(r).catch((err) => {
      this.env.log.error('C-STORE handling failed', { error: String(err) });
      return INTERNAL_ERROR;
    });
    if (this.closed) return;
    const rsp = encodeCStoreResponse({
      affectedSopClassUid: r.command.affectedSopClassUid ?? '',
      affectedSopInstanceUid: r.command.affectedSopInstanceUid ?? '',
      messageIdBeingRespondedTo: r.command.messageId,
      status,
      errorComment: reason,
    });
    this.env.send(encodePData(r.presentationContextId, true, rsp, this.env.peerMaxPduLength));
    this.env.touch();
    this.prepareSpare();
  }

  private async store(r: Receiving): Promise<StoreReply> {
    if (r.refuse) {
      this.env.log.warn('C-STORE refused', { status: r.refuse.status, reason: r.refuse.reason });
      return r.refuse;
    }
    const fd = r.fd;
    r.fd = undefined;
    if (r.writeError || fd === undefined || !r.path) {
      if (fd !== undefined) closeSync(fd);
      if (r.path) await fsp.rm(r.path, { force: true });
      this.env.log.error('spool write failed', { error: String(r.writeError) });
      return spoolFailureReply(r.writeError);
    }
    let outcome;
    try {
      // The store renames the file, then syncs its data (through this fd) and the directory together.
      outcome = await this.env.store.ingestFile(r.path, this.env.ingestContext(), {
        sha256: r.hash!.digest('hex'),
        size: r.size,
        bytes: r.gathered?.subarray(0, r.size),
        openFd: fd,
        deferNotify: true,
        affectedSopClassUid: r.command.affectedSopClassUid,
        affectedSopInstanceUid: r.command.affectedSopInstanceUid,
      });
    } finally {
      closeSync(fd);
      this.releaseBuffer(r);
    }
    const reply = ingestReply(outcome);
    if (!outcome.ok) this.env.log.warn('C-STORE failed', { status: reply.status, reason: reply.reason });
    return reply;
  }

  /** Keeps the gathering buffer for the next instance (when not too large). */
  private releaseBuffer(r: Receiving): void {
    const b = r.gathered;
    r.gathered = undefined;
    if (b && b.length <= KEEP_BUFFER_LIMIT && !this.closed) this.buffer = b;
  }

  private abort(reason: number): void {
    if (this.closed) return;
    this.aborted = true;
    try {
      this.env.send([encodeAbort(2, reason)]);
    } catch {
      /* socket gone */
    }
    this.onClose();
    this.env.close();
  }

  /** Closes the partial spool file of a data set that will never be answered, and removes it. */
  private discardReceiving(): Promise<void> {
    const s = this.state;
    if (s.kind !== 'data') return Promise.resolve();
    const r = s.receiving;
    this.state = { kind: 'idle' };
    const fd = r.fd;
    r.fd = undefined;
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    if (!r.path) return Promise.resolve();
    this.env.log.warn('association ended during a transfer; partial instance discarded');
    return fsp.rm(r.path, { force: true }).catch(() => undefined);
  }

  /** The transport closed (or is being closed): drop whatever is partial. Resolves once it is removed. */
  onClose(): Promise<void> {
    this.closed = true;
    this.env.store.notifyPending();
    this.queue.length = 0;
    this.buffer = undefined;
    const spareGone = this.disposeSpare();
    const partialGone = this.discardReceiving();
    return spareGone ? Promise.all([spareGone, partialGone]).then(() => undefined) : partialGone;
  }

  get wasAborted(): boolean {
    return this.aborted;
  }
}

function removeSpoolFile(fd: number, file: string): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB` : `${n} bytes`;
}
