/**
 * One query/retrieve association with dcmjs-dimse (PS3.4 Annex C as SCU): sends one C-FIND, C-MOVE or
 * C-GET request, collects its responses and resolves when the final (non-pending) response came or the
 * association ended. The association's lifecycle (watchdog of responseTimeoutSeconds re-armed on every
 * response, abort, AbortSignal) is delivery's (deliver/scu-association.ts), as for the storage SCU; a peer's
 * A-ABORT ends the exchange at once.
 * Never throws for network or peer problems: they become `error` with `reachable` telling whether an
 * association was ever accepted.
 */
import type { Client, requests, responses } from 'dcmjs-dimse';
import { runScuAssociation, type ScuTarget } from '../deliver/scu-association';
import { statusCategory } from '../dicom/status';

/** The PACS: host, port, AE titles and DICOM TLS (the destination's `tls`, BCP 195 as for delivery). */
export type DimseTarget = ScuTarget;

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
  const responses: AnyResponse[] = [];
  let final: AnyResponse | undefined;
  return runScuAssociation(
    target,
    {
      responseTimeoutSeconds: opts.responseTimeoutSeconds,
      signal: opts.signal,
      interruptedMessage: 'interrupted (deadline passed or node stopping)',
      // A final response ends our interest; the library releases the association itself after 'done'.
      addRequests: (client, control) => {
        request.on('response', (response: AnyResponse) => {
          responses.push(response);
          if (statusCategory(response.getStatus()) !== 'pending') final = response;
          control.rearm();
        });
        client.addRequest(request);
      },
      onAccepted: (accepted, control) => {
        if (!accepted.getAcceptedPresentationContextFromRequest(request)) {
          control.abort(`the PACS accepted no presentation context for ${request.constructor?.name ?? 'the request'}`);
        }
      },
      ...(opts.onClient ? { onSent: opts.onClient } : {}),
      onPeerAbort: (e) =>
        `the PACS aborted the association (A-ABORT source ${e.source ?? '?'}, reason ${e.reason ?? '?'}); a PACS that does not know our AE title ${target.callingAeTitle} does this`,
    },
    (end) => {
      const error = end.error ?? (final ? undefined : 'the association ended before the final response');
      return {
        associated: end.associated,
        responses,
        ...(final ? { final } : {}),
        ...(error !== undefined ? { error } : {}),
        unreachable: !end.associated,
        ...(end.peerAborted ? { aborted: true } : {}),
      };
    },
  );
}

/** "failure (0xA801): comment" for a response. */
export function describeStatus(r: AnyResponse): string {
  const status = r.getStatus();
  const comment = (r as unknown as { getErrorComment?(): string | undefined }).getErrorComment?.();
  return `${statusCategory(status)} (0x${status.toString(16).padStart(4, '0').toUpperCase()})${comment ? `: ${comment}` : ''}`;
}
