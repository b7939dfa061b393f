/**
 * The verification primitives the destination types use (src/deliver/destination-types): C-ECHO
 * (PS3.4 Annex A) and an HTTP QIDO-RS request (GET {url}/studies?limit=1). Never throw; the answer says
 * what happened. `echoDestination` (destination-types/index.ts) picks one by the destination's type.
 */
import { Client, requests } from 'dcmjs-dimse';
import { statusCategory } from '../dicom/status';
import { quietDimseLibrary } from './dimse-library';
import { errorMessage } from '../util/error-message';
import { fetchWithCa } from './ca-fetch';
import { clientSecurityOptions, type ClientTlsFiles } from '../dicom/tls-profile';

export interface EchoResult {
  ok: boolean;
  /** DIMSE status (C-ECHO) or HTTP status, when a response came. */
  status?: number;
  message: string;
  ms: number;
}

export function cEcho(
  t: { host: string; port: number; calledAeTitle: string; callingAeTitle: string; tls?: ClientTlsFiles | undefined },
  timeoutSeconds: number,
): Promise<Omit<EchoResult, 'ms'>> {
  quietDimseLibrary();
  return new Promise((resolve) => {
    const client = new Client();
    const request = new requests.CEchoRequest();
    let result: Omit<EchoResult, 'ms'> | undefined;
    let problem: string | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(result ?? { ok: false, message: problem ?? 'no C-ECHO response' });
    };
    const timer = setTimeout(() => {
      problem ??= `no answer within ${timeoutSeconds} s`;
      try {
        client.abort();
      } catch {
        // not connected
      }
      setTimeout(finish, 500).unref();
    }, timeoutSeconds * 1000);
    request.on('response', (response: { getStatus(): number }) => {
      const status = response.getStatus();
      const category = statusCategory(status);
      result = { ok: category === 'success', status, message: `C-ECHO ${category} (0x${status.toString(16).padStart(4, '0').toUpperCase()})` };
    });
    client.addRequest(request);
    client.on('associationRejected', (reject: { getReason?(): number }) => {
      problem = `association rejected (reason ${reject.getReason?.() ?? '?'})`;
    });
    client.on('networkError', (e: Error) => {
      problem ??= `network error: ${e.message.replace(/^\s*->\s*/, '')}`;
    });
    client.on('closed', finish);
    try {
      client.send(t.host, t.port, t.callingAeTitle, t.calledAeTitle, {
        connectTimeout: timeoutSeconds * 1000,
        associationTimeout: timeoutSeconds * 1000,
        ...(t.tls ? { securityOptions: clientSecurityOptions(t.tls) } : {}),
      });
    } catch (e) {
      problem = errorMessage(e);
      finish();
    }
  });
}

export async function httpCheck(url: string, authorization: string | undefined, timeoutSeconds: number, caFile?: string): Promise<Omit<EchoResult, 'ms'>> {
  const headers: Record<string, string> = { accept: 'application/dicom+json' };
  if (authorization) headers.authorization = authorization;
  try {
    const res = await fetchWithCa(`${url.replace(/\/+$/, '')}/studies?limit=1`, { headers, signal: AbortSignal.timeout(timeoutSeconds * 1000) }, caFile);
    await res.text();
    return { ok: res.ok, status: res.status, message: `QIDO-RS answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    return { ok: false, message: err.name === 'TimeoutError' ? `no answer within ${timeoutSeconds} s` : `network error: ${err.cause?.code ?? err.cause?.message ?? err.message}` };
  }
}
