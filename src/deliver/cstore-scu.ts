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
import { requests } from 'dcmjs-dimse';
import { statusCategory, type StatusCategory } from '../dicom/status';
import { errorMessage } from '../util/error-message';
import { runScuAssociation, type ScuTarget } from './scu-association';

const { CStoreRequest } = requests;

export interface StoreFile {
  /** Absolute path of a Part 10 file. */
  path: string;
  sopInstanceUid: string;
  sopClassUid: string;
}

/** Where to send: host, port, AE titles and DICOM TLS (BCP 195 profile) files. */
export type StoreTarget = ScuTarget;

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

  return runScuAssociation(
    target,
    {
      responseTimeoutSeconds: opts.responseTimeoutSeconds,
      ...(opts.connectTimeoutSeconds !== undefined ? { connectTimeoutSeconds: opts.connectTimeoutSeconds } : {}),
      signal: opts.signal,
      interruptedMessage: 'sending was interrupted (node stopping)',
      addRequests: (client, control) => {
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
            control.rearm();
          });
          client.addRequest(request);
        }
      },
      onAccepted: (assoc) => {
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
      },
    },
    ({ associated, error }) => ({
      associated,
      ...(error !== undefined ? { error } : {}),
      results: collect(files, outcomes, error ?? 'no response before the association ended'),
    }),
  );
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
