/**
 * STOW-RS client (PS3.18 10.5): POSTs Part 10 files to {url}/studies as
 * multipart/related; type="application/dicom" and reads the Store Instances Response Module
 * (ReferencedSOPSequence / FailedSOPSequence) into a per-instance outcome.
 *
 * Outcome rules: a 2xx response counts an instance as stored only when its ReferencedSOPSequence lists it;
 * one listed in FailedSOPSequence failed (with its FailureReason); a 2xx whose body lists neither (empty,
 * not JSON, no Store Instances Response Module) is a retryable failure, never a success. 4xx (but 408 and
 * 429) -> permanent failure of the whole request; 5xx, 408, 429, network errors and timeouts -> retryable
 * failure. Redirects are not followed (a redirect is a failure: the body would go to an address nobody
 * configured).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { InstanceOutcome, StoreFile } from './cstore-scu';
import { errorMessage } from '../util/error-message';
import { fetchWithCa } from './ca-fetch';

export interface StowTarget {
  /** DICOMweb base URL (the STOW endpoint is {url}/studies). */
  url: string;
  /** Sent verbatim as the Authorization header when set (e.g. "Bearer ..." or "Basic ..."). */
  authorization?: string;
  /** PEM CA bundle for an https server signed by a site CA. */
  caFile?: string | undefined;
}

export interface StowOutcome {
  /** HTTP status, when a response came. */
  httpStatus?: number;
  error?: string;
  results: InstanceOutcome[];
}

export interface StowOptions {
  timeoutSeconds: number;
  signal?: AbortSignal;
}

const TAG = {
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  ReferencedSOPInstanceUID: '00081155',
  FailureReason: '00081197',
  WarningReason: '00081196',
} as const;

/** Joins the endpoint path to a DICOMweb base URL, with exactly one slash between them. */
export function stowEndpoint(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/studies`;
}

/** A random multipart boundary that cannot be mistaken for DICOM content. */
export function newBoundary(): string {
  return `npcai-${randomBytes(16).toString('hex')}`;
}

/** Builds a multipart/related body: one application/dicom part per buffer. */
export function buildMultipartBody(parts: Buffer[], boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${part.length}\r\n\r\n`, 'latin1'));
    chunks.push(part);
    chunks.push(Buffer.from('\r\n', 'latin1'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(chunks);
}

export function multipartContentType(boundary: string): string {
  return `multipart/related; type="application/dicom"; boundary=${boundary}`;
}

interface DicomJsonAttr {
  vr?: string;
  Value?: unknown[];
}
type DicomJsonItem = Record<string, DicomJsonAttr | undefined>;

function items(body: unknown, tag: string): DicomJsonItem[] {
  if (!body || typeof body !== 'object') return [];
  const attr = (body as DicomJsonItem)[tag];
  return Array.isArray(attr?.Value) ? (attr.Value.filter((v) => v && typeof v === 'object') as DicomJsonItem[]) : [];
}

function firstString(item: DicomJsonItem, tag: string): string | undefined {
  const v = item[tag]?.Value?.[0];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** True when an HTTP status means that sending again may succeed. */
export function isRetryableHttpStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * Turns a STOW-RS response (status and parsed JSON body, or undefined) into one outcome per sent instance.
 */
export function parseStowResponse(httpStatus: number, body: unknown, sentUids: string[]): InstanceOutcome[] {
  const failed = new Map<string, string>();
  for (const it of items(body, TAG.FailedSOPSequence)) {
    const uid = firstString(it, TAG.ReferencedSOPInstanceUID);
    if (uid) failed.set(uid, firstString(it, TAG.FailureReason) ?? 'unknown');
  }
  const referenced = new Map<string, string | undefined>();
  for (const it of items(body, TAG.ReferencedSOPSequence)) {
    const uid = firstString(it, TAG.ReferencedSOPInstanceUID);
    if (uid) referenced.set(uid, firstString(it, TAG.WarningReason));
  }
  const ok2xx = httpStatus >= 200 && httpStatus < 300;
  return sentUids.map((uid): InstanceOutcome => {
    const reason = failed.get(uid);
    if (reason !== undefined) {
      return { sopInstanceUid: uid, ok: false, message: `HTTP ${httpStatus}: listed as failed (FailureReason ${reason})` };
    }
    if (ok2xx) {
      // Only a response that names the instance as stored counts: an empty or unparseable 200 is no receipt.
      return referenced.has(uid)
        ? { sopInstanceUid: uid, ok: true, message: `HTTP ${httpStatus}: stored${referenced.get(uid) ? ` with warning ${referenced.get(uid)}` : ''}` }
        : { sopInstanceUid: uid, ok: false, message: `HTTP ${httpStatus}: not listed as stored in the response` };
    }
    return {
      sopInstanceUid: uid,
      ok: false,
      message: `HTTP ${httpStatus}: request failed`,
      ...(isRetryableHttpStatus(httpStatus) ? {} : { permanent: true }),
    };
  });
}

/** POSTs `files` in one STOW-RS request; never throws for network or server problems. */
export async function stowInstances(target: StowTarget, files: StoreFile[], opts: StowOptions): Promise<StowOutcome> {
  const readable: { file: StoreFile; data: Buffer }[] = [];
  const unreadable: InstanceOutcome[] = [];
  for (const file of files) {
    try {
      readable.push({ file, data: await readFile(file.path) });
    } catch (e) {
      unreadable.push({ sopInstanceUid: file.sopInstanceUid, ok: false, message: `cannot read ${file.path}: ${errorMessage(e)}`, permanent: true });
    }
  }
  const order = (rs: InstanceOutcome[]) => files.map((f) => rs.find((r) => r.sopInstanceUid === f.sopInstanceUid)!);
  if (readable.length === 0) return { error: 'nothing readable to send', results: order(unreadable) };

  const boundary = newBoundary();
  const body = buildMultipartBody(readable.map((r) => r.data), boundary);
  const headers: Record<string, string> = {
    'content-type': multipartContentType(boundary),
    accept: 'application/dicom+json',
  };
  if (target.authorization) headers.authorization = target.authorization;
  const signals = [AbortSignal.timeout(opts.timeoutSeconds * 1000), ...(opts.signal ? [opts.signal] : [])];
  const uids = readable.map((r) => r.file.sopInstanceUid);
  try {
    const res = await fetchWithCa(stowEndpoint(target.url), { method: 'POST', headers, body, signal: AbortSignal.any(signals) }, target.caFile);
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined; // an XML or HTML body: judge by the status alone
    }
    const results = parseStowResponse(res.status, json, uids);
    return {
      httpStatus: res.status,
      ...(res.ok ? {} : { error: `HTTP ${res.status} ${res.statusText}`.trim() }),
      results: order([...results, ...unreadable]),
    };
  } catch (e) {
    const err = e as Error;
    const message = err.name === 'TimeoutError' ? `no response within ${opts.timeoutSeconds} s` : `network error: ${describeFetchError(err)}`;
    return { error: message, results: order([...uids.map((uid) => ({ sopInstanceUid: uid, ok: false, message })), ...unreadable]) };
  }
}

function describeFetchError(err: Error): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}
