/**
 * One query/retrieve association with dcmjs-dimse (PS3.4 Annex C as SCU): sends one C-FIND, C-MOVE or
 * C-GET request, collects its responses and resolves when the final (non-pending) response came or the
 * association ended. Timeouts as delivery's storage SCU: a watchdog of responseTimeoutSeconds re-armed on
 * every response (and on every C-STORE sub-operation for C-GET); when it fires the association is aborted.
 * Never throws for network or peer problems: they become `error` with `reachable` telling whether an
 * association was ever accepted.
 */
import { Client, association as assoc, requests, type responses } from 'dcmjs-dimse';
import { quietDimseLibrary } from '../deliver/dimse-library';
import { statusCategory } from '../dicom/status';
import { clientSecurityOptions, type ClientTlsFiles } from '../dicom/tls-profile';
import { errorMessage } from '../util/error-message';

export interface DimseTarget {
  host: string;
  port: number;
  calledAeTitle: string;
  callingAeTitle: string;
  /** DICOM TLS to the PACS (the destination's `tls`, BCP 195 as for delivery). */
  tls?: ClientTlsFiles;
}

export interface DimseExchangeOptions {
  responseTimeoutSeconds: number;
  signal?: AbortSignal;
  /** Called right after send(): lets C-GET install its C-STORE handling on the client. */
  onClient?: (client: Client) => void;
}

type AnyRequest = InstanceType<typeof requests.CFindRequest> | InstanceType<typeof requests.CMoveRequest> | InstanceType<typeof requests.CGetRequest>;
type AnyResponse = responses.Response;

export interface DimseExchange {
  /** An association was accepted (the PACS is reachable and knows us). */
  associated: boolean;
  /** Every response in order (pending ones and the final one). */
  responses: AnyResponse[];
  /** The final response, when one came. */
  final?: AnyResponse;
  /** Association-level problem, if any. */
  error?: string;
  /** True when the peer could not be reached at all (refused, rejected, no answer): retry may help. */
  unreachable: boolean;
  /** True when the peer sent an A-ABORT (Orthanc does so for a C-FIND/C-MOVE/C-GET from an AE it does not know). */
  aborted?: boolean;
}

export function exchange(target: DimseTarget, request: AnyRequest, opts: DimseExchangeOptions): Promise<DimseExchange> {
  quietDimseLibrary();
  return new Promise<DimseExchange>((resolve) => {
    const client = new Client();
    const out: DimseExchange = { associated: false, responses: [], unreachable: false };
    let settled = false;
    let watchdog: NodeJS.Timeout | undefined;
    const responseMs = opts.responseTimeoutSeconds * 1000;

    const finish = () => {
      if (settled) return;
      settled = true;
      if (watchdog) clearTimeout(watchdog);
      opts.signal?.removeEventListener('abort', onAbort);
      if (!out.final && !out.error) out.error = 'the association ended before the final response';
      if (!out.associated) out.unreachable = true;
      resolve(out);
    };
    const abortAssociation = (why: string) => {
      out.error ??= why;
      try {
        client.abort();
      } catch {
        // no network yet: nothing to abort
      }
      setTimeout(finish, 1000).unref();
    };
    const armWatchdog = () => {
      if (watchdog) clearTimeout(watchdog);
      watchdog = setTimeout(() => abortAssociation(`no response within ${opts.responseTimeoutSeconds} s`), responseMs);
    };
    const onAbort = () => abortAssociation('interrupted (deadline passed or node stopping)');
    if (opts.signal?.aborted) {
      out.error = 'interrupted (deadline passed or node stopping)';
      finish();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    request.on('response', (response: AnyResponse) => {
      out.responses.push(response);
      if (statusCategory(response.getStatus()) !== 'pending') out.final = response;
      armWatchdog();
    });
    client.addRequest(request);
    client.on('associationAccepted', (a: assoc.Association) => {
      out.associated = true;
      armWatchdog();
      if (!a.getAcceptedPresentationContextFromRequest(request)) {
        abortAssociation(`the PACS accepted no presentation context for ${request.constructor?.name ?? 'the request'}`);
      }
    });
    client.on('associationRejected', (reject: { getResult?(): number; getSource?(): number; getReason?(): number }) => {
      const parts = [reject.getResult?.(), reject.getSource?.(), reject.getReason?.()].map((v) => (v === undefined ? '?' : String(v)));
      out.error = `association rejected (result ${parts[0]}, source ${parts[1]}, reason ${parts[2]})`;
    });
    client.on('networkError', (e: Error) => {
      out.error ??= `network error: ${e.message}`;
    });
    client.on('closed', () => finish());
    // A final response ends our interest; the library releases the association itself after 'done'.
    try {
      client.send(target.host, target.port, target.callingAeTitle, target.calledAeTitle, {
        connectTimeout: responseMs,
        associationTimeout: responseMs,
        pduTimeout: responseMs,
        ...(target.tls ? { securityOptions: clientSecurityOptions(target.tls) } : {}),
      });
      // dcmjs-dimse 0.3.3's Client does not pass a peer's A-ABORT on (no event, socket left open until the
      // PDU timeout): listen on its network directly and end the exchange at once.
      const network = (client as unknown as { network?: { on(ev: 'abort', l: (e: { source?: number; reason?: number }) => void): void; socket?: { destroy(): void } } }).network;
      network?.on('abort', (e) => {
        out.aborted = true;
        out.error ??= `the PACS aborted the association (A-ABORT source ${e?.source ?? '?'}, reason ${e?.reason ?? '?'}); a PACS that does not know our AE title ${target.callingAeTitle} does this`;
        network.socket?.destroy();
        finish();
      });
      opts.onClient?.(client);
      armWatchdog();
    } catch (e) {
      out.error = `cannot start the association: ${errorMessage(e)}`;
      finish();
    }
  });
}

/** "failure (0xA801): comment" for a response. */
export function describeStatus(r: AnyResponse): string {
  const status = r.getStatus();
  const comment = (r as unknown as { getErrorComment?(): string | undefined }).getErrorComment?.();
  return `${statusCategory(status)} (0x${status.toString(16).padStart(4, '0').toUpperCase()})${comment ? `: ${comment}` : ''}`;
}
