/**
 * Brings a prior study into the node's durable store:
 * - C-MOVE SCU (PS3.4 C.4.2, Study Root) with the node's own AE title as move destination: the PACS opens
 *   its own association to the node's DIMSE listener, which stores the instances as any other C-STORE. The
 *   PACS must know the node (AE title, host, port).
 * - C-GET SCU (PS3.4 C.4.3): the PACS sends C-STORE sub-operations on the same association (dcmjs-dimse
 *   proposes every storage SOP class with the SCP role); each data set is spooled to disk as received (the
 *   library's in-memory parse is bypassed, as in the node's Storage SCP) and ingested with `prior: true`.
 * - WADO-RS RetrieveStudy (PS3.18 10.4) as multipart/related; type="application/dicom": each part is
 *   spooled and ingested with `prior: true`.
 * Afterwards the store is asked which of the study's instances it holds; those are the result.
 */
import { rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { requests, responses, type Client, type association } from 'dcmjs-dimse';
import { Status, statusCategory } from '../dicom/status';
import { AcceptedStorageSopClasses } from '../dicom/uids';
import { encodeFileMeta } from '../dicom/part10';
import { MultipartError, parseContentType, parseMultipart } from '../receive/stow/multipart-related';
import { InstanceStore } from '../store/instance-store';
import type { SpoolWriter } from '../store/spool-writer';
import { describeStatus, exchange, type DimseTarget } from './dimse-association';
import type { DicomWebSource } from './find-prior-studies';
import { causeText, dicomwebGet } from './dicomweb-get';
import { priorFailure, type PriorOutcome } from './prior-types';
import { errorMessage } from '../util/error-message';

const { CMoveRequest, CGetRequest } = requests;

/** The calling AE title recorded for instances retrieved with WADO-RS (as STOW-RS records 'STOW-RS'). */
export const WADO_CALLING_AE_TITLE = 'WADO-RS';
const { CStoreResponse } = responses;

export type RetrieveOutcome = { ok: true; sopInstanceUids: string[]; method: 'c-move' | 'c-get' | 'wado-rs'; note?: string } | (PriorOutcome & { ok: false });

export interface RetrieveOptions {
  responseTimeoutSeconds: number;
  signal?: AbortSignal;
  /** Most instances accepted for the study (C-GET / WADO-RS parts beyond it are refused). */
  maxInstances?: number;
  /** Most bytes of a WADO-RS response / of one C-GET instance. */
  maxBytes?: number;
  /** The local AE title the instances are filed under (the current study's; default: C-GET's calling AE title, 'NPCAI' for WADO-RS). */
  localAeTitle?: string;
}

/** C-MOVE to `moveDestinationAeTitle` (the node's own AE title). */
export async function retrieveByCMove(
  target: DimseTarget,
  moveDestinationAeTitle: string,
  studyInstanceUid: string,
  store: InstanceStore,
  opts: RetrieveOptions,
): Promise<RetrieveOutcome> {
  const request = CMoveRequest.createStudyMoveRequest(moveDestinationAeTitle, studyInstanceUid);
  const ex = await exchange(target, request, { responseTimeoutSeconds: opts.responseTimeoutSeconds, ...(opts.signal ? { signal: opts.signal } : {}) });
  if (!ex.associated) return priorFailure('pacs-unreachable', `the PACS ${target.calledAeTitle} at ${target.host}:${target.port} could not be reached for the C-MOVE (${ex.error ?? 'no association'})`, true);
  if (!ex.final) return priorFailure('retrieval-failed', `the PACS ${target.calledAeTitle} did not complete the C-MOVE of the prior study (${ex.error ?? 'no final response'})`, !ex.aborted);
  const status = ex.final.getStatus();
  const counts = subOperations(ex.final);
  if (status === Status.MoveDestinationUnknown) {
    return priorFailure('retrieval-failed', `the PACS ${target.calledAeTitle} does not know the node's AE title ${moveDestinationAeTitle} as a C-MOVE destination (register the node there)`);
  }
  // Orthanc 1.10 answers 0xC000 (not 0xA801) when the destination is unknown or cannot be reached.
  const hint =
    statusCategory(status) === 'failure' && !counts.completed
      ? `the PACS may not know the node's AE title ${moveDestinationAeTitle} as a C-MOVE destination (AE title, host, port of the node's DIMSE listener) or could not connect to it`
      : undefined;
  return settleRetrieve(store, studyInstanceUid, 'c-move', statusCategory(status), describeStatus(ex.final), counts, hint);
}

/** C-GET; the C-STORE sub-operations are stored through `store` with `prior: true`. */
export async function retrieveByCGet(target: DimseTarget, studyInstanceUid: string, store: InstanceStore, opts: RetrieveOptions): Promise<RetrieveOutcome> {
  const request = CGetRequest.createStudyGetRequest(studyInstanceUid);
  request.setAddStorageSopClassesToAssociation(true);
  const stored: string[] = [];
  const refused: string[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const ex = await exchange(target, request, {
    responseTimeoutSeconds: opts.responseTimeoutSeconds,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onClient: (client) => installCGetStoreHandling(client, target, store, opts, { stored, refused, inFlight }),
  });
  await Promise.allSettled([...inFlight]);
  if (!ex.associated) return priorFailure('pacs-unreachable', `the PACS ${target.calledAeTitle} at ${target.host}:${target.port} could not be reached for the C-GET (${ex.error ?? 'no association'})`, true);
  if (!ex.final) return priorFailure('retrieval-failed', `the PACS ${target.calledAeTitle} did not complete the C-GET of the prior study (${ex.error ?? 'no final response'})`, !ex.aborted);
  const note = refused.length ? `${refused.length} instance(s) not stored: ${refused.slice(0, 3).join('; ')}` : undefined;
  return settleRetrieve(store, studyInstanceUid, 'c-get', statusCategory(ex.final.getStatus()), describeStatus(ex.final), subOperations(ex.final), note);
}

interface CGetState {
  stored: string[];
  refused: string[];
  inFlight: Set<Promise<unknown>>;
}

/**
 * Replaces the client network's in-memory collection of C-STORE data sets with a spool file per instance
 * (File Meta from the command, bytes as received), then answers each C-STORE after the store's ingest.
 */
function installCGetStoreHandling(client: Client, target: DimseTarget, store: InstanceStore, opts: RetrieveOptions, state: CGetState): void {
  const network = (client as unknown as { network?: NetworkHooks }).network;
  if (!network) throw new Error('dcmjs-dimse Client has no network after send(); C-GET cannot store');
  const writers = new Map<unknown, { writer?: SpoolWriter; refuse?: { status: number; reason: string } }>();
  network.createStoreWritableStream = (pc, command) => {
    const sopClass = command.getAffectedSopClassUid();
    const ts = pc?.getAcceptedTransferSyntaxUid();
    const refuse = (status: number, reason: string) => {
      writers.set(command, { refuse: { status, reason } });
      return discardSink();
    };
    if (!AcceptedStorageSopClasses.has(sopClass)) return refuse(Status.SopClassNotSupported, `SOP class ${sopClass} is not stored as a prior`);
    if (!ts) return refuse(Status.ProcessingFailure, 'no accepted transfer syntax');
    if (opts.maxInstances !== undefined && state.stored.length + writers.size >= opts.maxInstances) return refuse(Status.OutOfResources, 'too many instances for one prior study');
    const writer = store.createSpoolWriter(
      encodeFileMeta({
        sopClassUid: sopClass,
        sopInstanceUid: command.getAffectedSopInstanceUid(),
        transferSyntaxUid: ts,
        sourceAeTitle: target.calledAeTitle,
        receivingAeTitle: opts.localAeTitle ?? target.callingAeTitle,
      }),
      opts.maxBytes,
      InstanceStore.IN_MEMORY_LIMIT,
    );
    writer.on('error', () => undefined);
    writers.set(command, { writer });
    return writer;
  };
  network.createDatasetFromStoreWritableStream = (ws, _pc, callback) => {
    let called = false;
    const done = () => {
      if (called) return;
      called = true;
      callback(undefined);
    };
    if (ws.writableFinished) done();
    else {
      ws.once('finish', done);
      ws.once('error', done);
      ws.once('close', done);
    }
  };
  client.on('cStoreRequest', (command: requests.CStoreRequest, callback: (r: responses.CStoreResponse) => void) => {
    const p = (async () => {
      const entry = writers.get(command);
      writers.delete(command);
      const answer = (status: number, comment?: string) => {
        const r = CStoreResponse.fromRequest(command);
        r.setStatus(status);
        if (comment) r.setErrorComment(comment.slice(0, 64));
        callback(r);
      };
      if (!entry?.writer) {
        const why = entry?.refuse ?? { status: Status.ProcessingFailure, reason: 'no data set received' };
        state.refused.push(why.reason);
        return answer(why.status, why.reason);
      }
      const writer = entry.writer;
      if (!writer.writableFinished || writer.errored) {
        writer.destroy();
        state.refused.push('could not spool the data set');
        return answer(Status.ProcessingFailure, 'could not spool the data set');
      }
      const outcome = await store.ingestFile(
        writer.path,
        { calledAeTitle: opts.localAeTitle ?? target.callingAeTitle, callingAeTitle: target.calledAeTitle, via: 'dimse', prior: true },
        {
          sha256: writer.sha256,
          size: writer.size,
          ...(writer.contents() ? { bytes: writer.contents()! } : {}),
          dataSynced: true,
          affectedSopClassUid: command.getAffectedSopClassUid(),
          affectedSopInstanceUid: command.getAffectedSopInstanceUid(),
        },
      );
      if (outcome.ok) {
        state.stored.push(outcome.instance.sopInstanceUid);
        return answer(Status.Success);
      }
      state.refused.push(outcome.reason);
      return answer(outcome.status, outcome.reason);
    })().catch((e) => {
      state.refused.push(errorMessage(e));
      const r = CStoreResponse.fromRequest(command);
      r.setStatus(Status.ProcessingFailure);
      callback(r);
    });
    state.inFlight.add(p);
    void p.finally(() => state.inFlight.delete(p));
  });
}

interface NetworkHooks {
  createStoreWritableStream(pc: association.PresentationContext | undefined, command: requests.CStoreRequest): Writable;
  createDatasetFromStoreWritableStream(ws: Writable, pc: association.PresentationContext | undefined, callback: (dataset: undefined) => void): void;
}

function discardSink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** WADO-RS RetrieveStudy; every application/dicom part is stored with `prior: true`. */
export async function retrieveByWado(source: DicomWebSource, studyInstanceUid: string, store: InstanceStore, opts: RetrieveOptions): Promise<RetrieveOutcome> {
  const url = `${source.url.replace(/\/+$/, '')}/studies/${encodeURIComponent(studyInstanceUid)}`;
  const got = await dicomwebGet(source, url, 'multipart/related; type="application/dicom"; transfer-syntax=*', opts, ' for WADO-RS');
  if (!got.ok) return got.outcome;
  const res = got.res;
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    const retry = res.status >= 500 || res.status === 408 || res.status === 429;
    return priorFailure(retry ? 'pacs-unreachable' : 'retrieval-failed', `the DICOMweb server answered the WADO-RS retrieval of the prior study with HTTP ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}`, retry);
  }
  const ct = parseContentType(res.headers.get('content-type') ?? undefined);
  if (!ct || ct.mediaType !== 'multipart/related' || !ct.params.boundary) {
    await res.body.cancel();
    return priorFailure('retrieval-failed', `the WADO-RS answer is not multipart/related (${(res.headers.get('content-type') ?? 'no content type').slice(0, 80)})`);
  }
  const spooled: { writer: SpoolWriter; contentType?: string }[] = [];
  const maxBytes = opts.maxBytes ?? 8 * 1024 ** 3;
  try {
    await parseMultipart(
      asBuffers(res.body as unknown as AsyncIterable<Uint8Array>),
      ct.params.boundary,
      {
        part(headers) {
          if (opts.maxInstances !== undefined && spooled.length >= opts.maxInstances) throw new MultipartError('too many instances for one prior study');
          const writer = store.createSpoolWriter(undefined, maxBytes, InstanceStore.IN_MEMORY_LIMIT);
          writer.on('error', () => undefined);
          const mt = parseContentType(headers['content-type'])?.mediaType;
          spooled.push({ writer, ...(mt ? { contentType: mt } : {}) });
          return writer;
        },
      },
      maxBytes,
    );
  } catch (e) {
    for (const s of spooled) {
      s.writer.destroy();
      await removeQuietly(s.writer.path);
    }
    return priorFailure('retrieval-failed', `the WADO-RS answer could not be read (${e instanceof MultipartError ? e.message : causeText(e)})`, !(e instanceof MultipartError));
  }
  const refused: string[] = [];
  for (const { writer, contentType } of spooled) {
    await finished(writer).catch(() => undefined);
    if ((contentType !== undefined && contentType !== 'application/dicom') || writer.errored || !writer.writableFinished) {
      writer.destroy();
      await removeQuietly(writer.path);
      refused.push(contentType && contentType !== 'application/dicom' ? `part type ${contentType.slice(0, 40)}` : 'part not spooled');
      continue;
    }
    const bytes = writer.contents();
    const outcome = await store.ingestFile(
      writer.path,
      { calledAeTitle: opts.localAeTitle ?? 'NPCAI', callingAeTitle: WADO_CALLING_AE_TITLE, via: 'stow', prior: true },
      { sha256: writer.sha256, size: writer.size, ...(bytes ? { bytes } : {}), dataSynced: true, expectedStudyInstanceUid: studyInstanceUid },
    );
    if (!outcome.ok) refused.push(outcome.reason);
  }
  const note = refused.length ? `${refused.length} part(s) not stored: ${refused.slice(0, 3).join('; ')}` : undefined;
  return settleRetrieve(store, studyInstanceUid, 'wado-rs', 'success', `HTTP ${res.status}`, undefined, note);
}

interface SubOps {
  completed?: number;
  failed?: number;
  warnings?: number;
}

function subOperations(r: responses.Response): SubOps {
  const x = r as unknown as { getCompleted?(): number; getFailures?(): number; getWarnings?(): number };
  return { completed: x.getCompleted?.(), failed: x.getFailures?.(), warnings: x.getWarnings?.() };
}

/** The outcome from the final status and what the store now holds of the study. */
function settleRetrieve(
  store: InstanceStore,
  studyInstanceUid: string,
  method: 'c-move' | 'c-get' | 'wado-rs',
  category: string,
  statusText: string,
  counts?: SubOps,
  note?: string,
): RetrieveOutcome {
  const held = store.listStudyInstances(studyInstanceUid).map((i) => i.sopInstanceUid);
  const failedOps = counts?.failed ?? 0;
  const label = method === 'wado-rs' ? 'WADO-RS' : method.toUpperCase();
  if (category === 'failure' || category === 'cancel') {
    return priorFailure('retrieval-failed', `the ${label} of the prior study failed: ${statusText}${note ? `; ${note}` : ''}`);
  }
  if (held.length === 0) {
    return priorFailure('retrieval-failed', `the ${label} of the prior study ended (${statusText}) but no instance of it reached the store${note ? `; ${note}` : ''}`);
  }
  const partial = failedOps > 0 || category === 'warning' ? `${failedOps} sub-operation(s) failed (${statusText})` : undefined;
  const notes = [partial, note].filter(Boolean).join('; ');
  return { ok: true, sopInstanceUids: held, method, ...(notes ? { note: notes } : {}) };
}

/**
 * fetch's body yields Uint8Array chunks; parseMultipart needs Buffers (on a Uint8Array, indexOf looks for
 * one byte, not a sequence, and a boundary split across chunks was missed: one part of 150 was lost).
 */
async function* asBuffers(body: AsyncIterable<Uint8Array>): AsyncIterable<Buffer> {
  for await (const chunk of body) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

async function removeQuietly(p: string): Promise<void> {
  await rm(p, { force: true }).catch(() => undefined);
}
