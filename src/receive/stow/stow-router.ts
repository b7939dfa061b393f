/**
 * STOW-RS (PS3.18 10.5): POST /dicomweb/studies[/{StudyInstanceUID}] with multipart/related;
 * type="application/dicom". Each part is spooled as received and goes through the same validation,
 * durable store and 'stored' events as C-STORE. Responses are application/dicom+json: 200 all stored,
 * 202 some failed (FailedSOPSequence), 409 none stored, 400 malformed request, 415 unsupported media type,
 * 413 a part or the request larger than allowed, 408 a body that did not arrive within the request deadline
 * (both with a message, and the connection closed: the rest of the body is not read).
 */
import { Router, type Request, type Response } from 'express';
import type { Logger } from '../../logging/logger';
import type { InstanceStore, IngestOutcome } from '../../store/instance-store';
import type { SettingsRepository } from '../../store/settings-repository';
import { SpoolLimitError, type SpoolWriter } from '../../store/spool-writer';
import { Status } from '../../dicom/status';
import { isValidUid } from '../../dicom/uids';
import { MultipartError, parseContentType, parseMultipart } from './multipart-related';

export const STOW_CALLING_AE_TITLE = 'STOW-RS';
const DICOM_JSON = 'application/dicom+json';

export interface StowOptions {
  store: InstanceStore;
  settings: SettingsRepository;
  maxBytes: number;
  /** Largest part (one instance). Default: maxBytes. */
  maxPartBytes?: number;
  /** Deadline for the whole request body to arrive. Default: none. */
  requestTimeoutMs?: number;
  logger: Logger;
  /**
   * The calling AE title recorded for a request's instances (e.g. the configured source an ingest token
   * names); default STOW_CALLING_AE_TITLE.
   */
  callingAeTitleOf?: (req: Request, res: Response) => string | undefined;
}

interface PartResult {
  outcome: IngestOutcome;
}

export function stowRoutes(opts: StowOptions): Router {
  const r = Router();
  const handler = (req: Request, res: Response) => handleStow(req, res, opts);
  r.post('/dicomweb/studies', handler);
  r.post('/dicomweb/studies/:study', handler);
  return r;
}

function dicomJsonError(res: Response, status: number, message: string): void {
  res.status(status).type(DICOM_JSON).send(JSON.stringify({ '00000902': { vr: 'LO', Value: [message.slice(0, 64)] } }));
}

/** Answers a request whose body is not read to its end, then closes the connection (no reading it on). */
function refuseUnread(req: Request, res: Response, status: number, message: string): void {
  res.setHeader('connection', 'close');
  res.once('finish', () => req.socket.destroy());
  dicomJsonError(res, status, message);
}

/** The body's chunks, failing with 408 once `deadline` passed (see StowOptions.requestTimeoutMs). */
async function* withDeadline(body: AsyncIterable<Buffer>, deadline: Promise<never>): AsyncIterable<Buffer> {
  const it = body[Symbol.asyncIterator]();
  for (;;) {
    const r = await Promise.race([it.next(), deadline]);
    if (r.done) return;
    yield r.value;
  }
}

async function handleStow(req: Request, res: Response, opts: StowOptions): Promise<void> {
  const log = opts.logger.child({ component: 'stow', remoteAddress: req.socket.remoteAddress });
  const study = typeof req.params.study === 'string' ? req.params.study : undefined;
  if (study !== undefined && !isValidUid(study)) return dicomJsonError(res, 400, 'invalid StudyInstanceUID in the path');

  const ct = parseContentType(req.headers['content-type']);
  if (!ct || ct.mediaType !== 'multipart/related') return dicomJsonError(res, 415, 'expected multipart/related; type="application/dicom"');
  const partType = (ct.params.type ?? 'application/dicom').toLowerCase();
  if (partType !== 'application/dicom') return dicomJsonError(res, 415, `unsupported type "${partType.slice(0, 40)}"; only application/dicom`);
  const boundary = ct.params.boundary;
  if (!boundary) return dicomJsonError(res, 400, 'multipart boundary missing');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > opts.maxBytes) return refuseUnread(req, res, 413, `request body larger than ${opts.maxBytes} bytes`);

  const aeParam = typeof req.query.aeTitle === 'string' ? req.query.aeTitle.trim() : undefined;
  const localAes = opts.settings.aeTitles.list().map((a) => a.aeTitle);
  const calledAeTitle = aeParam ?? localAes[0];
  if (!calledAeTitle || !localAes.includes(calledAeTitle)) {
    return dicomJsonError(res, 400, `aeTitle "${String(aeParam).slice(0, 16)}" is not a local AE title`);
  }

  const callingAeTitle = opts.callingAeTitleOf?.(req, res) ?? STOW_CALLING_AE_TITLE;
  const spooled: Array<{ writer: SpoolWriter; contentType: string | undefined }> = [];
  const space = await opts.store.checkFreeSpace(declared);
  if (space) return dicomJsonError(res, 503, space.reason);
  const maxPartBytes = opts.maxPartBytes ?? opts.maxBytes;
  let timer: NodeJS.Timeout | undefined;
  const seconds = Math.round((opts.requestTimeoutMs ?? 0) / 1000);
  const deadline = new Promise<never>((_resolve, reject) => {
    if (opts.requestTimeoutMs) timer = setTimeout(() => reject(new MultipartError(`request body not received within ${seconds} s`, 408)), opts.requestTimeoutMs);
  });
  deadline.catch(() => undefined);
  try {
    await parseMultipart(
      withDeadline(req as AsyncIterable<Buffer>, deadline),
      boundary,
      {
        part(headers) {
          const writer = opts.store.createSpoolWriter(undefined, maxPartBytes);
          writer.on('error', () => undefined);
          spooled.push({ writer, contentType: parseContentType(headers['content-type'])?.mediaType });
          return writer;
        },
      },
      opts.maxBytes,
    );
  } catch (err) {
    // Parts already complete were never stored: their spool files go too (destroy keeps a finished file).
    for (const s of spooled) s.writer.destroy();
    await Promise.all(spooled.map((s) => removeQuietly(s.writer.path)));
    if (err instanceof SpoolLimitError) {
      log.warn('STOW-RS part over the size limit', { maxPartBytes });
      return refuseUnread(req, res, 413, `part larger than ${maxPartBytes} bytes`);
    }
    if (err instanceof MultipartError && (err.httpStatus === 413 || err.httpStatus === 408)) {
      log.warn('STOW-RS request refused', { status: err.httpStatus, reason: err.message });
      return refuseUnread(req, res, err.httpStatus, err.message);
    }
    if (err instanceof MultipartError) return dicomJsonError(res, err.httpStatus, err.message);
    log.warn('STOW-RS request failed while receiving', { error: String(err) });
    if (!res.headersSent) return dicomJsonError(res, 400, 'request body could not be read');
    return;
  } finally {
    clearTimeout(timer);
  }
  if (spooled.length === 0) return dicomJsonError(res, 400, 'no parts in the multipart body');

  const results: PartResult[] = [];
  for (const { writer, contentType } of spooled) {
    if (contentType !== undefined && contentType !== 'application/dicom') {
      writer.destroy();
      await removeQuietly(writer.path);
      results.push({ outcome: { ok: false, status: Status.ProcessingFailure, reason: `part type ${contentType.slice(0, 40)} not supported`, httpStatus: 415 } });
      continue;
    }
    const outcome = await opts.store.ingestFile(
      writer.path,
      { calledAeTitle, callingAeTitle, via: 'stow', remoteAddress: req.socket.remoteAddress },
      { sha256: writer.sha256, size: writer.size, dataSynced: true, expectedStudyInstanceUid: study },
    );
    results.push({ outcome });
  }

  const base = `${req.protocol}://${req.get('host') ?? 'localhost'}/dicomweb`;
  const referenced = results.flatMap(({ outcome: o }) =>
    o.ok
      ? [
          {
            '00081150': { vr: 'UI', Value: [o.instance.sopClassUid] },
            '00081155': { vr: 'UI', Value: [o.instance.sopInstanceUid] },
            '00081190': { vr: 'UR', Value: [`${base}/studies/${o.instance.studyInstanceUid}/series/${o.instance.seriesInstanceUid}/instances/${o.instance.sopInstanceUid}`] },
          },
        ]
      : [],
  );
  const failed = results.flatMap(({ outcome: o }) =>
    o.ok
      ? []
      : [
          {
            ...(o.sopClassUid && isValidUid(o.sopClassUid) ? { '00081150': { vr: 'UI', Value: [o.sopClassUid] } } : {}),
            ...(o.sopInstanceUid && isValidUid(o.sopInstanceUid) ? { '00081155': { vr: 'UI', Value: [o.sopInstanceUid] } } : {}),
            '00081197': { vr: 'US', Value: [o.status] },
            // The reason in words (as the DIMSE ErrorComment): FailureReason alone cannot say which check failed.
            '00000902': { vr: 'LO', Value: [o.reason.slice(0, 64)] },
          },
        ],
  );
  const body: Record<string, unknown> = {};
  const studies = new Set(results.flatMap(({ outcome: o }) => (o.ok ? [o.instance.studyInstanceUid] : [])));
  if (studies.size === 1) body['00081190'] = { vr: 'UR', Value: [`${base}/studies/${[...studies][0]}`] };
  if (failed.length) body['00081198'] = { vr: 'SQ', Value: failed };
  if (referenced.length) body['00081199'] = { vr: 'SQ', Value: referenced };
  let status = 200;
  if (failed.length && referenced.length) status = 202;
  else if (failed.length) {
    const codes = results.map(({ outcome: o }) => (o.ok ? 0 : o.httpStatus));
    status = codes.every((c) => c === 415) ? 415 : 409;
  }
  log.info('STOW-RS request', { stored: referenced.length, failed: failed.length, status });
  res.status(status).type(DICOM_JSON).send(JSON.stringify(body));
}

async function removeQuietly(p: string): Promise<void> {
  const { rm } = await import('node:fs/promises');
  await rm(p, { force: true }).catch(() => undefined);
}

