/**
 * Storage SCU (PS3.4 Annex B): sends a batch of Part 10 files over one association with dcmjs-dimse and
 * reports the outcome per SOP instance.
 *
 * - One `Client` per batch (the library keeps every sent dataset referenced until the client is dropped).
 * - The library proposes one presentation context per SOP class with Implicit and Explicit VR Little
 *   Endian (our objects are Explicit VR LE; the SCP's choice is honoured and the library converts between
 *   the two native syntaxes). A file in another syntax gets its own context with that syntax.
 * - A request gets Success only from a response whose status is Success or a Warning (PS3.7 C.1). A failure
 *   status, a request whose SOP class was not accepted, a request left unanswered when the association
 *   ended (peer closed, aborted, network error) and one not answered within the response timeout are
 *   failures, each reported for its SOP instance.
 * - The library re-encodes datasets: private tags are dropped and text is written as UTF-8. Our results
 *   (SR, Secondary Capture) are written as UTF-8 (Specific Character Set ISO_IR 192) with no private
 *   tags, so what the PACS receives is what we wrote.
 */
import { Client, requests, type association } from 'dcmjs-dimse';
import { statusCategory, type StatusCategory } from '../dicom/status';
import { quietDimseLibrary } from './dimse-library';
import { errorMessage } from '../util/error-message';
import { clientSecurityOptions, type ClientTlsFiles } from '../dicom/tls-profile';

const { CStoreRequest } = requests;

export interface StoreFile {
  /** Absolute path of a Part 10 file. */
  path: string;
  sopInstanceUid: string;
  sopClassUid: string;
}

export interface StoreTarget {
  host: string;
  port: number;
  calledAeTitle: string;
  callingAeTitle: string;
  /** Over DICOM TLS (BCP 195 profile) with these files. */
  tls?: ClientTlsFiles | undefined;
}

export interface InstanceOutcome {
  sopInstanceUid: string;
  ok: boolean;
  /** DIMSE status of the response, when one came. */
  status?: number;
  category?: StatusCategory | 'no-response';
  message: string;
  /** True when sending the same bytes again cannot help (e.g. the file is unreadable). */
  permanent?: boolean;
}

export interface StoreOutcome {
  /** Whether an association was established. */
  associated: boolean;
  /** Association-level problem (refused connection, rejection, abort, timeout), if any. */
  error?: string;
  results: InstanceOutcome[];
}

export interface StoreOptions {
  /** Seconds to wait for each response (and for the association to be accepted). */
  responseTimeoutSeconds: number;
  connectTimeoutSeconds?: number;
  /** Aborting it aborts the association; unanswered requests are reported as failures. */
  signal?: AbortSignal;
}

/** Sends `files` to `target` over one association; never throws for network or peer problems. */
export function storeInstances(target: StoreTarget, files: StoreFile[], opts: StoreOptions): Promise<StoreOutcome> {
  quietDimseLibrary();
  const outcomes = new Map<string, InstanceOutcome>();
  const pending: { file: StoreFile; request: InstanceType<typeof CStoreRequest> }[] = [];

  for (const file of files) {
    try {
      const request = new CStoreRequest(file.path);
      pending.push({ file, request });
    } catch (e) {
      outcomes.set(file.sopInstanceUid, {
        sopInstanceUid: file.sopInstanceUid,
        ok: false,
        message: `cannot read ${file.path}: ${errorMessage(e)}`,
        permanent: true,
      });
    }
  }
  if (pending.length === 0) {
    return Promise.resolve({ associated: false, error: 'nothing readable to send', results: collect(files, outcomes, 'nothing sent') });
  }

  return new Promise<StoreOutcome>((resolve) => {
    const client = new Client();
    let associated = false;
    let error: string | undefined;
    let settled = false;
    let watchdog: NodeJS.Timeout | undefined;
    const responseMs = opts.responseTimeoutSeconds * 1000;

    const finish = () => {
      if (settled) return;
      settled = true;
      if (watchdog) clearTimeout(watchdog);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ associated, ...(error !== undefined ? { error } : {}), results: collect(files, outcomes, error ?? 'no response before the association ended') });
    };
    const abortAssociation = (why: string) => {
      error ??= why;
      try {
        client.abort();
      } catch {
        // no network yet: nothing to abort
      }
      // The library emits 'closed' once the socket ends; do not wait forever for it.
      setTimeout(finish, 1000).unref();
    };
    const armWatchdog = () => {
      if (watchdog) clearTimeout(watchdog);
      watchdog = setTimeout(() => abortAssociation(`no response within ${opts.responseTimeoutSeconds} s`), responseMs);
    };
    const onAbort = () => abortAssociation('sending was interrupted (node stopping)');
    if (opts.signal?.aborted) {
      error = 'sending was interrupted (node stopping)';
      finish();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    for (const { file, request } of pending) {
      request.on('response', (response: { getStatus(): number; getErrorComment?(): string | undefined }) => {
        const status = response.getStatus();
        const category = statusCategory(status);
        const ok = category === 'success' || category === 'warning';
        const comment = typeof response.getErrorComment === 'function' ? response.getErrorComment() : undefined;
        outcomes.set(file.sopInstanceUid, {
          sopInstanceUid: file.sopInstanceUid,
          ok,
          status,
          category,
          message: `${category} (0x${status.toString(16).padStart(4, '0').toUpperCase()})${comment ? `: ${comment}` : ''}`,
        });
        armWatchdog();
      });
      client.addRequest(request);
    }

    client.on('associationAccepted', (assoc: association.Association) => {
      associated = true;
      armWatchdog();
      for (const { file, request } of pending) {
        if (!assoc.getAcceptedPresentationContextFromRequest(request)) {
          outcomes.set(file.sopInstanceUid, {
            sopInstanceUid: file.sopInstanceUid,
            ok: false,
            category: 'no-response',
            message: `the peer accepted no presentation context for SOP class ${file.sopClassUid}`,
          });
        }
      }
    });
    client.on('associationRejected', (reject: { getResult?(): number; getSource?(): number; getReason?(): number }) => {
      const parts = [reject.getResult?.(), reject.getSource?.(), reject.getReason?.()].map((v) => (v === undefined ? '?' : String(v)));
      error = `association rejected (result ${parts[0]}, source ${parts[1]}, reason ${parts[2]})`;
    });
    client.on('networkError', (e: Error) => {
      error ??= `network error: ${e.message}`;
    });
    client.on('closed', () => finish());

    try {
      client.send(target.host, target.port, target.callingAeTitle, target.calledAeTitle, {
        connectTimeout: (opts.connectTimeoutSeconds ?? opts.responseTimeoutSeconds) * 1000,
        associationTimeout: responseMs,
        pduTimeout: responseMs,
        ...(target.tls ? { securityOptions: clientSecurityOptions(target.tls) } : {}),
      });
      armWatchdog();
    } catch (e) {
      error = `cannot start the association: ${errorMessage(e)}`;
      finish();
    }
  });
}

function collect(files: StoreFile[], outcomes: Map<string, InstanceOutcome>, missingReason: string): InstanceOutcome[] {
  return files.map(
    (f) =>
      outcomes.get(f.sopInstanceUid) ?? {
        sopInstanceUid: f.sopInstanceUid,
        ok: false,
        category: 'no-response',
        message: `no C-STORE response: ${missingReason}`,
      },
  );
}
