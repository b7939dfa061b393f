/**
 * fetch for DICOMweb destinations with their own CA (`caFile`): Node's global fetch cannot be given a CA
 * without undici's Agent, so a request to an https server signed by a site CA goes through node:https
 * with that CA (BCP 195 protocol settings). Without `caFile` the global fetch (system CAs) is used.
 */
import https from 'node:https';
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

/** GET/POST `url` (redirects are never followed); with `caFile` (https only) the server's certificate must be signed by it. */
export async function fetchWithCa(url: string, init: CaFetchInit, caFile: string | undefined): Promise<MinimalResponse> {
  if (!caFile || !url.startsWith('https:')) {
    const res = await fetch(url, { ...(init as RequestInit), redirect: 'error' });
    return { status: res.status, statusText: res.statusText, ok: res.ok, text: () => res.text() };
  }
  const ca = readPem(caFile, 'caFile');
  return new Promise<MinimalResponse>((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, ca, ...bcp195Options(), ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status, statusText: res.statusMessage ?? '', ok: status >= 200 && status < 300, text: async () => body });
      });
    });
    req.on('error', (e) => reject(Object.assign(new Error(e.message), { cause: e, name: init.signal?.aborted && init.signal.reason instanceof Error ? init.signal.reason.name : e.name })));
    if (init.body) req.end(init.body);
    else req.end();
  });
}
