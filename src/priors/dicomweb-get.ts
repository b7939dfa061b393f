/**
 * One HTTP GET to a DICOMweb priors source (QIDO-RS query, WADO-RS retrieval): http(s) only, redirects never
 * followed, the source's Authorization header, over https the source's own CA when it has `caFile` (through
 * delivery's ca-fetch), a timeout per request, and a failure outcome whose message reads as a "not
 * assessable" reason.
 */
import { CaFileUnreadable, fetchResponseWithCa } from '../deliver/ca-fetch';
import { errorMessage } from '../util/error-message';
import { priorFailure, type PriorOutcome } from './prior-types';

export interface DicomWebGetSource {
  /** Sent verbatim as the Authorization header when set. */
  authorization?: string;
  /** Over https, the server's certificate must be signed by this CA (PEM), as for delivery (deliver/ca-fetch). */
  caFile?: string;
}

export type DicomWebGet = { ok: true; res: Response } | { ok: false; outcome: PriorOutcome & { ok: false } };

/** GETs `url` with `accept`; `what` names the request in the unreachable message (e.g. ' for WADO-RS'). */
export async function dicomwebGet(
  source: DicomWebGetSource,
  url: string,
  accept: string,
  opts: { responseTimeoutSeconds: number; signal?: AbortSignal },
  what = '',
): Promise<DicomWebGet> {
  try {
    assertHttpUrl(url);
  } catch (e) {
    return { ok: false, outcome: priorFailure('not-configured', `the DICOMweb priors source URL is not usable: ${errorMessage(e)}`) };
  }
  try {
    const res = await fetchResponseWithCa(
      url,
      {
        headers: { accept, ...(source.authorization ? { authorization: source.authorization } : {}) },
        redirect: 'manual',
        signal: timeoutSignal(opts.responseTimeoutSeconds, opts.signal),
      },
      source.caFile,
    );
    return { ok: true, res };
  } catch (e) {
    if (e instanceof CaFileUnreadable) return { ok: false, outcome: priorFailure('not-configured', `the DICOMweb priors source's ${e.message}`) };
    return { ok: false, outcome: priorFailure('pacs-unreachable', `the DICOMweb server ${new URL(url).host} could not be reached${what} (${causeText(e)})`, true) };
  }
}

/** Throws unless the URL is http: or https:. */
export function assertHttpUrl(url: string): void {
  const p = new URL(url).protocol;
  if (p !== 'http:' && p !== 'https:') throw new Error(`only http and https URLs are allowed (got ${p})`);
}

export function timeoutSignal(seconds: number, outer?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(seconds * 1000);
  return outer ? AbortSignal.any([t, outer]) : t;
}

/** fetch's "fetch failed" hides the reason in `cause`. */
export function causeText(e: unknown): string {
  if (e instanceof Error && e.name === 'TimeoutError') return 'no answer in time';
  const cause = e instanceof Error ? (e as Error & { cause?: unknown }).cause : undefined;
  const code = (cause as { code?: string } | undefined)?.code;
  return code ?? (cause instanceof Error ? cause.message : errorMessage(e));
}
