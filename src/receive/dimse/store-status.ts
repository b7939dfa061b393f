/**
 * What a C-STORE SCP answers (PS3.4 Table GG.4-1 statuses, an ErrorComment of at most 64 characters), for
 * every way a store can end. The one mapping both C-STORE paths use: the dcmjs-dimse one (store-scp.ts)
 * and the fast path (fast-store-path.ts).
 */
import { Status } from '../../dicom/status';
import { isStorageFull } from '../../store/free-space';
import type { IngestOutcome } from '../../store/instance-store';

export interface StoreReply {
  status: number;
  /** ErrorComment; absent on Success. */
  reason?: string;
}

/** A store refused before it reached the store: always says why. */
export interface StoreRefusal extends StoreReply {
  reason: string;
}

export const NO_DATA_SET: Readonly<StoreRefusal> = Object.freeze({ status: Status.ProcessingFailure, reason: 'no data set received' });
export const INTERNAL_ERROR: Readonly<StoreRefusal> = Object.freeze({ status: Status.ProcessingFailure, reason: 'internal error' });
export const SOP_CLASS_MISMATCH: Readonly<StoreRefusal> = Object.freeze({
  status: Status.SopClassNotSupported,
  reason: 'SOP class does not match the presentation context',
});

/** The data set could not be written to the spool: Out of Resources when the disk or quota is full. */
export function spoolFailureReply(err: unknown): StoreReply {
  if (isStorageFull(err)) return { status: Status.OutOfResources, reason: 'storage full' };
  return { status: Status.ProcessingFailure, reason: 'could not spool the data set' };
}

/** The store's verdict: Success only once the instance is durable and indexed, else the store's status and reason. */
export function ingestReply(outcome: IngestOutcome): StoreReply {
  if (outcome.ok) return { status: Status.Success };
  return { status: outcome.status, reason: outcome.reason };
}

