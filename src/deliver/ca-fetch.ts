/**
 * fetch for DICOMweb peers with their own CA (`caFile`): Node's global fetch cannot be given a CA
 * without undici's Agent, so a request to an https server signed by a site CA goes through node:https
 * with that CA (BCP 195 protocol settings). Without `caFile` the global fetch (system CAs) is used.
 * Delivery (STOW-RS, the QIDO-RS check) reads whole answers with fetchWithCa; the priors' QIDO-RS and
 * WADO-RS stream theirs with fetchResponseWithCa.
 */
import https from 'node:https';
import { Readable } from 'node:stream';
import { bcp195Options, readPem } from '../dicom/tls-profile';

export interface MinimalResponse {
  status: number;
  statusText: string;
  ok: boolean;
  text(): Promise<string>;
}

export interface CaFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
}

/** The `caFile` could not be read (a configuration problem, not the peer's). */
export class CaFileUnreadable extends Error {
  override name = 'CaFileUnreadable';
}

/** GET/POST `url` (redirects are never followed); with `caFile` (https only) the server's certificate must be signed by it. */
export async function fetchWithCa(url: string, init: CaFetchInit, caFile: string | undefined): Promise<MinimalResponse> {
  const res = await fetchResponseWithCa(url, { ...init, redirect: 'error' }, caFile);
  return { status: res.status, statusText: res.statusText, ok: res.ok, text: () => res.text() };
}

/**
 * The same request, answered as a web Response whose body streams. Redirects are never followed:
 * `redirect: 'error'` makes one a thrown error (without caFile) and `'manual'` returns the 3xx answer itself.
 * With caFile over https the 3xx answer is always returned as it is.
 */
export async function fetchResponseWithCa(url: string, init: CaFetchInit & { redirect: 'error' | 'manual' }, caFile: string | undefined): Promise<Response> {
  if (!caFile || !url.startsWith('https:')) {
    return fetch(url, init as RequestInit);
  }
  let ca: Buffer;
  try {
    ca = readPem(caFile, 'caFile');
  } catch (e) {
    throw new CaFileUnreadable(e instanceof Error ? e.message : String(e), { cause: (e as { cause?: unknown }).cause ?? e });
  }
  return new Promise<Response>((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, ca, ...bcp195Options(), ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
      }
      const nullBody = status === 204 || status === 205 || status === 304 || init.method === 'HEAD';
      if (nullBody) res.resume();
      try {
        resolve(new Response(nullBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? '', headers }));
      } catch (e) {
        res.destroy();
        reject(new Error(`unusable HTTP answer (status ${status})`, { cause: e }));
      }
    });
    req.on('error', (e) => reject(Object.assign(new Error(e.message), { cause: e, name: init.signal?.aborted && init.signal.reason instanceof Error ? init.signal.reason.name : e.name })));
    if (init.body) req.end(init.body);
    else req.end();
  });
}
