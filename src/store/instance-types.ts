/**
 * What the store knows about a received instance, shared by receive/ (writes), assemble/ (groups),
 * select/ and prepare/ (read). Attribute names keep their DICOM keywords.
 */
import type { InstanceHeader } from '../core/instance-header';

export type { InstanceHeader };

export interface StoredInstance {
  sopInstanceUid: string;
  sopClassUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
  calledAeTitle: string;
  callingAeTitle: string;
  /** Absolute path of the stored Part 10 file (bytes exactly as received). */
  path: string;
  size: number;
  sha256: string;
  receivedAt: string;
  header: InstanceHeader;
}

/** Emitted after an instance is durably stored and indexed (also for an idempotent duplicate). */
export interface InstanceStoredEvent {
  instance: StoredInstance;
  /** True when an identical instance was already stored (nothing changed on disk). */
  duplicate: boolean;
  via: 'dimse' | 'stow';
  /**
   * True when the priors stage retrieved it (C-GET, WADO-RS) as a patient's other study: the assembler
   * records it but starts no analysis of its own. (C-MOVE arrivals come through the DIMSE listener
   * unflagged; PriorRetrieval.isPriorStudy tells those apart.)
   */
  prior?: boolean;
  /**
   * True when this instance's patient identity differed from its study's and was taken as a correction
   * (storage.patientIdentityMismatch 'accept-newest', or a trusted corrector): the study is re-keyed to it.
   */
  identityCorrected?: boolean;
}

/**
 * A 'stored' listener may carry `storedBatch`: the store then hands it the deferred events of one batch
 * (those of C-STOREs answered within a few milliseconds of each other) in one call instead of one call per
 * event, so that it can record them in one transaction. Undeferred events still come one by one.
 */
export interface BatchingStoredListener {
  (e: InstanceStoredEvent): void;
  storedBatch?: (events: InstanceStoredEvent[]) => void;
}
