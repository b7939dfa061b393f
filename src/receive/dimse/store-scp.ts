/**
 * Storage SCP (PS3.4 Annex B) and Verification SCP (PS3.4 Annex A) for one association, on dcmjs-dimse.
 * Each C-STORE data set is streamed unchanged into a spool file (behind a File Meta header), handed to the
 * InstanceStore, and answered with the store's outcome: Success only once durable and indexed.
 */
import { Scp, constants, responses, type association, type requests } from 'dcmjs-dimse';
import type { Socket } from 'node:net';
import { promises as fsp } from 'node:fs';
import { Writable } from 'node:stream';
import type { Logger } from '../../logging/logger';
import { InstanceStore } from '../../store/instance-store';
import { encodeFileMeta } from '../../dicom/part10';
import { Status } from '../../dicom/status';
import { INTERNAL_ERROR, NO_DATA_SET, SOP_CLASS_MISMATCH, ingestReply, spoolFailureReply, type StoreReply } from './store-status';
import { AcceptedStorageSopClasses } from '../../dicom/uids';
import type { SpoolWriter } from '../../store/spool-writer';
import { decideAssociation, type AssociationPolicyInput } from './association-policy';
import { negotiatePresentationContext } from './transfer-syntax-negotiation';
import { FastStorePath, type NegotiatedContext } from './fast-store-path';
import type { PduBytes } from './p-data';

const { PresentationContextResult, RejectResult, RejectSource, RejectReason } = constants;
const { CStoreResponse, CEchoResponse } = responses;

/** What an association needs from the server that created it. */
export interface ScpEnvironment {
  store: InstanceStore;
  logger: Logger;
  maxPduLength: number;
  transferSyntaxes: readonly string[];
  /** The current policy inputs (AE titles and sources change through the admin API). */
  policy: () => Promise<AssociationPolicyInput>;
  openAssociations: () => number;
  onAssociationAccepted: (scp: StoreScp) => void;
  /** Told of each association decision (the audit trail); a throwing observer changes nothing. */
  onAssociationDecided?: (ev: AssociationDecidedEvent) => void;
  /** Receive C-STORE data sets on the node's own path (FastStorePath) instead of through the library. */
  fastStorePath?: boolean;
  /** Hands a PDU to the library (from guardSocket); needed by the fast path. */
  deliverToLibrary?: (pdu: Buffer) => void;
  /** Per-instance size cap and how often free space is checked while a data set streams in (fast path). */
  limits?: { maxInstanceBytes: number; freeSpaceCheckBytes: number };
}

export interface AssociationDecidedEvent {
  accepted: boolean;
  callingAeTitle: string;
  calledAeTitle: string;
  remoteAddress: string | undefined;
  /** Refused: the policy's reason code and message. */
  reason?: string;
  message?: string;
  /** Accepted: presentation contexts accepted of those proposed. */
  acceptedContexts?: number;
  proposedContexts?: number;
}

type StoreState = { writer: SpoolWriter; discard?: undefined } | { writer?: undefined; discard: { status: number; reason: string } };

/** A Writable that drops what it is given (for data sets that will be refused). */
function discardSink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

export class StoreScp extends Scp {
  private env!: ScpEnvironment;
  private log!: Logger;
  private remoteAddress: string | undefined;
  private accepted = false;
  private readonly stores = new WeakMap<object, StoreState>();
  private activeWriter: SpoolWriter | undefined;
  /** In-flight ingests (graceful stop waits for them). */
  readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  private socketRef!: Socket;
  /** The node's own C-STORE path, once the association is accepted (config.dimse.fastStorePath). */
  private fast: FastStorePath | undefined;

  /** Called by the server right after construction. */
  attach(socket: Socket, env: ScpEnvironment): void {
    this.env = env;
    this.socketRef = socket;
    this.remoteAddress = socket.remoteAddress;
    this.log = env.logger.child({ remoteAddress: socket.remoteAddress });
    this.on('close', () => this.onClosed());
  }

  get isAccepted(): boolean {
    return this.accepted;
  }

  /**
   * PDU router (guardSocket): after acceptance every PDU goes through the fast path, which handles C-STORE
   * itself and hands everything else to the library in order. Returns false to let the library have it.
   */
  interceptPdu(pdu: PduBytes): boolean {
    if (!this.fast) return false;
    this.fast.push(pdu);
    return true;
  }

  private onClosed(): void {
    this.closed = true;
    void this.fast?.onClose();
    if (this.activeWriter && !this.activeWriter.writableFinished) {
      this.log.warn('association closed during a transfer; partial instance discarded');
      this.activeWriter.destroy();
    }
    this.activeWriter = undefined;
  }

  /**
   * Discards the instance being received, if any (it was never answered), and resolves once its temp file
   * is removed. Used at shutdown after the transport is closed, so nothing partial outlives the process.
   */
  discardPartial(): Promise<void> {
    const fastDone = this.fast?.onClose();
    if (fastDone) return fastDone;
    const w = this.activeWriter;
    this.activeWriter = undefined;
    if (!w) return Promise.resolve();
    // Fully spooled but not yet handed to the store: it will not be answered either.
    if (w.writableFinished) return fsp.rm(w.path, { force: true }).catch(() => undefined);
    if (w.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      w.once('close', () => resolve());
      w.destroy();
    });
  }

  override associationRequested(a: association.Association): void {
    this.decide(a).catch((err) => {
      this.log.error('association negotiation failed', { error: String(err) });
      try {
        this.sendAssociationReject(RejectResult.Transient, RejectSource.ServiceUser, RejectReason.NoReasonGiven);
      } catch {
        /* socket gone */
      }
    });
  }

  private async decide(a: association.Association): Promise<void> {
    const calledAeTitle = a.getCalledAeTitle().trim();
    const callingAeTitle = a.getCallingAeTitle().trim();
    this.log = this.env.logger.child({ callingAeTitle, calledAeTitle, remoteAddress: this.remoteAddress });
    const policy = await this.env.policy();
    const decision = decideAssociation({ calledAeTitle, callingAeTitle, remoteAddress: this.remoteAddress, openAssociations: this.env.openAssociations() }, policy);
    if (this.closed) return;
    if (!decision.accept) {
      this.log.warn('association rejected', { reason: decision.reason, message: decision.message });
      this.tellDecided({ accepted: false, callingAeTitle, calledAeTitle, remoteAddress: this.remoteAddress, reason: decision.reason, message: decision.message });
      if (decision.reason === 'called-ae-not-recognized') {
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized);
      } else if (decision.reason === 'calling-ae-not-recognized') {
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized);
      } else {
        this.sendAssociationReject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded);
      }
      return;
    }
    let acceptedContexts = 0;
    const negotiated = new Map<number, NegotiatedContext>();
    for (const { id, context } of a.getPresentationContexts()) {
      const r = negotiatePresentationContext(context.getAbstractSyntaxUid(), context.getTransferSyntaxUids(), this.env.transferSyntaxes);
      if (r.result === 'accept') {
        context.setResult(PresentationContextResult.Accept, r.transferSyntaxUid);
        negotiated.set(id, { abstractSyntaxUid: context.getAbstractSyntaxUid(), transferSyntaxUid: r.transferSyntaxUid });
        acceptedContexts += 1;
      } else if (r.result === 'abstract-syntax-not-supported') {
        context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
      } else {
        context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
    }
    a.setNegotiateAsyncOps(false);
    const peerMaxPduLength = a.getMaxPduLength();
    a.setMaxPduLength(this.env.maxPduLength);
    this.accepted = true;
    if (this.env.fastStorePath && this.env.deliverToLibrary) this.fast = this.createFastPath(negotiated, peerMaxPduLength, this.env.deliverToLibrary);
    this.sendAssociationAccept();
    this.env.onAssociationAccepted(this);
    this.log.info('association accepted', { presentationContexts: a.getPresentationContexts().length, acceptedContexts });
    this.tellDecided({ accepted: true, callingAeTitle, calledAeTitle, remoteAddress: this.remoteAddress, acceptedContexts, proposedContexts: a.getPresentationContexts().length });
  }

  private tellDecided(ev: AssociationDecidedEvent): void {
    try {
      this.env.onAssociationDecided?.(ev);
    } catch (err) {
      this.log.error('association observer failed', { error: String(err) });
    }
  }

  private createFastPath(contexts: Map<number, NegotiatedContext>, peerMaxPduLength: number, deliver: (pdu: Buffer) => void): FastStorePath {
    const socket = this.socketRef;
    const ingest = { calledAeTitle: this.calledAe(), callingAeTitle: this.callingAe(), via: 'dimse' as const, remoteAddress: this.remoteAddress };
    return new FastStorePath({
      store: this.env.store,
      log: this.log,
      contexts,
      peerMaxPduLength,
      ingestContext: () => ingest,
      sourceAeTitle: this.callingAe(),
      send: (bytes) => {
        if (socket.destroyed) return;
        for (const b of bytes) socket.write(b);
      },
      deliver,
      close: () => socket.destroy(),
      touch: () => {
        (this as unknown as { lastPduTime?: number }).lastPduTime = Date.now();
      },
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      inFlight: this.inFlight,
      ...this.env.limits,
    });
  }

  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }

  override cEchoRequest(request: requests.CEchoRequest, callback: (response: responses.CEchoResponse) => void): void {
    const rsp = CEchoResponse.fromRequest(request);
    rsp.setStatus(Status.Success);
    callback(rsp);
  }

  /** Decides, before any byte is stored, whether this data set can be accepted, and where it goes. */
  override createStoreWritableStream(pc: association.PresentationContext, request: requests.CStoreRequest): Writable {
    const refuse = (status: number, reason: string) => {
      this.stores.set(request, { discard: { status, reason } });
      return discardSink();
    };
    if (!this.accepted) return refuse(Status.ProcessingFailure, 'no association');
    if (!pc || pc.getResult() !== PresentationContextResult.Accept) return refuse(Status.SopClassNotSupported, 'presentation context not accepted');
    const sopClass = request.getAffectedSopClassUid();
    if (!AcceptedStorageSopClasses.has(pc.getAbstractSyntaxUid()) || sopClass !== pc.getAbstractSyntaxUid()) {
      return refuse(SOP_CLASS_MISMATCH.status, SOP_CLASS_MISMATCH.reason);
    }
    const ts = pc.getAcceptedTransferSyntaxUid();
    if (!ts) return refuse(Status.ProcessingFailure, 'no accepted transfer syntax');
    const writer = this.env.store.createSpoolWriter(
      encodeFileMeta({
        sopClassUid: sopClass,
        sopInstanceUid: request.getAffectedSopInstanceUid(),
        transferSyntaxUid: ts,
        sourceAeTitle: this.callingAe(),
        receivingAeTitle: this.calledAe(),
      }),
      undefined,
      InstanceStore.IN_MEMORY_LIMIT,
    );
    writer.on('error', (err) => this.log.error('spool write failed', { error: String(err) }));
    this.stores.set(request, { writer });
    this.activeWriter = writer;
    return writer;
  }

  override createDatasetFromStoreWritableStream(ws: Writable, _pc: association.PresentationContext, callback: (dataset: never) => void): void {
    // The data set stays on disk; cStoreRequest finds the spool file through the request.
    const done = () => callback(undefined as never);
    if (ws.writableFinished) done();
    else {
      let called = false;
      const once = () => {
        if (!called) {
          called = true;
          done();
        }
      };
      ws.once('finish', once);
      ws.once('error', once);
      ws.once('close', once);
    }
  }

  override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
    const p = this.handleStore(request)
      .catch((err) => {
        this.log.error('C-STORE handling failed', { error: String(err) });
        return INTERNAL_ERROR;
      })
      .then(({ status, reason }) => {
        if (this.closed) return;
        const rsp = CStoreResponse.fromRequest(request);
        rsp.setStatus(status);
        if (reason) rsp.setErrorComment(reason.slice(0, 64));
        callback(rsp);
      });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async handleStore(request: requests.CStoreRequest): Promise<StoreReply> {
    const state = this.stores.get(request);
    this.stores.delete(request);
    if (!state) return NO_DATA_SET;
    if (state.discard) {
      this.log.warn('C-STORE refused', { status: state.discard.status, reason: state.discard.reason });
      return state.discard;
    }
    const writer = state.writer;
    if (this.activeWriter === writer) this.activeWriter = undefined;
    if (!writer.writableFinished || writer.errored) {
      writer.destroy();
      return spoolFailureReply(writer.errored);
    }
    const outcome = await this.env.store.ingestFile(
      writer.path,
      { calledAeTitle: this.calledAe(), callingAeTitle: this.callingAe(), via: 'dimse', remoteAddress: this.remoteAddress },
      {
        sha256: writer.sha256,
        size: writer.size,
        bytes: writer.contents(),
        dataSynced: true,
        affectedSopClassUid: request.getAffectedSopClassUid(),
        affectedSopInstanceUid: request.getAffectedSopInstanceUid(),
      },
    );
    const reply = ingestReply(outcome);
    if (!outcome.ok) this.log.warn('C-STORE failed', { status: reply.status, reason: reply.reason });
    return reply;
  }

  private callingAe(): string {
    return (this as unknown as { association?: association.Association }).association?.getCallingAeTitle().trim() ?? '';
  }
  private calledAe(): string {
    return (this as unknown as { association?: association.Association }).association?.getCalledAeTitle().trim() ?? '';
  }

  /** A-ABORT from the peer: discard any partial instance and close the transport (PS3.8 7.3.3.2). */
  override abort(): void {
    this.log.warn('peer aborted the association');
    this.onClosed();
    (this as unknown as { socket: Socket }).socket.destroy();
  }
}
