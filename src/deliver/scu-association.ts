/**
 * One SCU association's lifecycle with dcmjs-dimse, shared by delivery's storage SCU and the priors'
 * query/retrieve SCU: a watchdog of responseTimeoutSeconds (armed on send and on acceptance, re-armed by the
 * caller on every response) aborts the association when it fires; an abort ends the association at the
 * latest 1 s later, whether or not the library reports 'closed'; an AbortSignal aborts it the same way.
 * Rejections, network errors and start-up failures become `error`; it never throws for network or peer
 * problems. What requests are sent and what their responses mean stays with the caller.
 */
import { Client, type association } from 'dcmjs-dimse';
import { clientSecurityOptions, type ClientTlsFiles } from '../dicom/tls-profile';
import { errorMessage } from '../util/error-message';
import { quietDimseLibrary } from './dimse-library';

export interface ScuTarget {
  host: string;
  port: number;
  calledAeTitle: string;
  callingAeTitle: string;
  /** Over DICOM TLS (BCP 195 profile) with these files. */
  tls?: ClientTlsFiles | undefined;
}

/** What a caller may do to the association while it runs. */
export interface AssociationControl {
  /** Restarts the response watchdog: call it on every response (or sub-operation) that shows progress. */
  rearm(): void;
  /** Aborts the association for this reason (the first reason recorded wins); it ends 1 s later at the latest. */
  abort(why: string): void;
}

/** A peer's A-ABORT as the library's network reports it. */
export interface PeerAbort {
  source?: number;
  reason?: number;
}

export interface ScuAssociationOptions {
  /** Seconds to wait for each response (and for the association to be accepted). */
  responseTimeoutSeconds: number;
  /** Seconds to wait for the TCP connection; responseTimeoutSeconds when absent. */
  connectTimeoutSeconds?: number;
  /** Aborting it aborts the association. */
  signal?: AbortSignal | undefined;
  /** The error recorded when `signal` aborts. */
  interruptedMessage: string;
  /** Adds the requests (and their 'response' handlers) to the client; called once, before send(). */
  addRequests(client: Client, control: AssociationControl): void;
  /** Called when the association is accepted (after the watchdog is re-armed). */
  onAccepted?(accepted: association.Association, control: AssociationControl): void;
  /** Called right after send(): lets a caller install more handling on the client (C-GET's C-STORE). */
  onSent?(client: Client, control: AssociationControl): void;
  /**
   * Given, a peer's A-ABORT ends the association at once (dcmjs-dimse 0.3.3's Client does not pass it on:
   * no event, the socket left open until the PDU timeout); the text returned becomes `error` unless one was
   * recorded before.
   */
  onPeerAbort?(abort: PeerAbort): string;
}

export interface AssociationEnd {
  /** Whether an association was accepted. */
  associated: boolean;
  /** Association-level problem (refusal, rejection, abort, timeout, interruption), if any. */
  error?: string;
  /** Whether the peer sent an A-ABORT (only seen when onPeerAbort is given). */
  peerAborted: boolean;
}

/**
 * Runs one association to `target` and resolves with `conclude(end)`, called once, synchronously, when the
 * association ended (closed, aborted, interrupted or never started).
 */
export function runScuAssociation<T>(target: ScuTarget, opts: ScuAssociationOptions, conclude: (end: AssociationEnd) => T): Promise<T> {
  quietDimseLibrary();
  return new Promise<T>((resolve) => {
    const client = new Client();
    const end: AssociationEnd = { associated: false, peerAborted: false };
    let settled = false;
    let watchdog: NodeJS.Timeout | undefined;
    const responseMs = opts.responseTimeoutSeconds * 1000;

    const finish = () => {
      if (settled) return;
      settled = true;
      if (watchdog) clearTimeout(watchdog);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(conclude(end));
    };
    const abort = (why: string) => {
      end.error ??= why;
      try {
        client.abort();
      } catch {
        // no network yet: nothing to abort
      }
      // The library emits 'closed' once the socket ends; do not wait forever for it.
      setTimeout(finish, 1000).unref();
    };
    const rearm = () => {
      if (watchdog) clearTimeout(watchdog);
      watchdog = setTimeout(() => abort(`no response within ${opts.responseTimeoutSeconds} s`), responseMs);
    };
    const control: AssociationControl = { rearm, abort };
    const onAbort = () => abort(opts.interruptedMessage);
    if (opts.signal?.aborted) {
      end.error = opts.interruptedMessage;
      finish();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    opts.addRequests(client, control);
    client.on('associationAccepted', (accepted: association.Association) => {
      end.associated = true;
      rearm();
      opts.onAccepted?.(accepted, control);
    });
    client.on('associationRejected', (reject: { getResult?(): number; getSource?(): number; getReason?(): number }) => {
      const parts = [reject.getResult?.(), reject.getSource?.(), reject.getReason?.()].map((v) => (v === undefined ? '?' : String(v)));
      end.error = `association rejected (result ${parts[0]}, source ${parts[1]}, reason ${parts[2]})`;
    });
    client.on('networkError', (e: Error) => {
      end.error ??= `network error: ${e.message}`;
    });
    client.on('closed', () => finish());

    try {
      client.send(target.host, target.port, target.callingAeTitle, target.calledAeTitle, {
        connectTimeout: (opts.connectTimeoutSeconds ?? opts.responseTimeoutSeconds) * 1000,
        associationTimeout: responseMs,
        pduTimeout: responseMs,
        ...(target.tls ? { securityOptions: clientSecurityOptions(target.tls) } : {}),
      });
      const onPeerAbort = opts.onPeerAbort;
      if (onPeerAbort) {
        const network = (client as unknown as { network?: { on(ev: 'abort', l: (e: PeerAbort | undefined) => void): void; socket?: { destroy(): void } } }).network;
        network?.on('abort', (e) => {
          end.peerAborted = true;
          end.error ??= onPeerAbort(e ?? {});
          network.socket?.destroy();
          finish();
        });
      }
      opts.onSent?.(client, control);
      rearm();
    } catch (e) {
      end.error = `cannot start the association: ${errorMessage(e)}`;
      finish();
    }
  });
}
