/**
 * Vocabulary of the priors stage (query/retrieve of the patient's other MR study for the progression
 * analysis, paper 001): the patient and study the node holds, the studies a PACS answers with, where to ask,
 * and the typed outcome whose message reads as a "not assessable" reason.
 */
import type { ClientTlsFiles } from '../dicom/tls-profile';

/** The study that completed on the node: whose prior is wanted. Attribute names keep their DICOM keywords. */
export interface CurrentStudy {
  StudyInstanceUID: string;
  PatientID: string;
  IssuerOfPatientID?: string;
  PatientBirthDate?: string;
  PatientSex?: string;
  /** YYYYMMDD */
  StudyDate?: string;
  /** The local AE title the study came in on (C-MOVE destination and our calling AE title by default). */
  calledAeTitle: string;
}

/** One study-level match from C-FIND or QIDO-RS (return keys as DICOM keywords). */
export interface StudyMatch {
  StudyInstanceUID: string;
  PatientID?: string;
  IssuerOfPatientID?: string;
  PatientBirthDate?: string;
  PatientSex?: string;
  StudyDate?: string;
  StudyTime?: string;
  AccessionNumber?: string;
  ModalitiesInStudy?: string[];
  NumberOfStudyRelatedInstances?: number;
}

/** A PACS to ask, as the coordinator maps a destination to it (config.destinations by name). */
export type PriorSource =
  | {
      type: 'dimse';
      name: string;
      aeTitle: string;
      host: string;
      port: number;
      /** Our calling AE title (default: the local AE title the study came in on). */
      callingAeTitle?: string;
      /**
       * 'c-move' (default): the PACS sends the study to our own AE title, so it must know the node (AE
       * title, host, port of the node's DIMSE listener). 'c-get': stores arrive on the same association.
       */
      retrieve?: 'c-move' | 'c-get';
      /** DICOM TLS to the PACS (the destination's `tls`). */
      tls?: ClientTlsFiles;
    }
  | {
      type: 'dicomweb';
      name: string;
      /** DICOMweb base URL (QIDO at {url}/studies, WADO-RS at {url}/studies/{uid}). */
      url: string;
      /** Sent verbatim as the Authorization header when set. */
      authorization?: string;
      /** Over https, the server's certificate must be signed by this CA (the destination's `caFile`). */
      caFile?: string;
    };

/** The priors settings of a local AE title (`"priors": {"from": [...], "lookbackDays": 1825}`). */
export interface PriorsConfig {
  /** Destination names to query, in order; the first that yields a prior is used. */
  from: string[];
  /** How far back (and forward, for a pre-treatment current study) StudyDate may lie. */
  lookbackDays: number;
}

/** Limits shared with delivery (config.delivery). */
export interface PriorLimits {
  /** Seconds to wait for any single DIMSE response or HTTP answer. */
  responseTimeoutSeconds: number;
  /** Attempts per source for unreachable / retryable failures. */
  maxAttempts: number;
  initialBackoffSeconds: number;
  maxBackoffSeconds: number;
  /** Most instances retrieved for one prior study (a bound on disk and time). */
  maxInstances?: number;
  /** Most bytes of one WADO-RS response. */
  maxBytes?: number;
}

export type PriorFailureReason =
  /** No priors source configured for the AE title, or a name that is no destination. */
  | 'not-configured'
  /** The PACS could not be reached (connection refused, association rejected, timeout). */
  | 'pacs-unreachable'
  /** The PACS answered the query with a failure. */
  | 'query-failed'
  /** No earlier (or later) MR study of this patient in the look-back window. */
  | 'no-match'
  /** Only studies of other patients (same ID from another issuer, other birth date or sex) matched. */
  | 'patient-mismatch'
  /** A prior was found but could not be brought into the store. */
  | 'retrieval-failed'
  /** The deadline passed before the retrieval finished. */
  | 'timeout';

/** The prior study that is now in the node's store. */
export interface RetrievedPrior {
  studyInstanceUid: string;
  studyDate?: string;
  /** Which priors source it came from (destination name) and how ('already-stored': it was in the store). */
  source: string;
  method: 'c-move' | 'c-get' | 'wado-rs' | 'already-stored';
  /** SOP Instance UIDs of the prior study that are in the store. */
  sopInstanceUids: string[];
  /** Whether the prior is the pre-treatment study (earlier than the current one). */
  relation: 'earlier' | 'later';
}

export type PriorOutcome =
  | { ok: true; study: RetrievedPrior }
  | { ok: false; reason: PriorFailureReason; message: string; retryable?: boolean };

/** A failure outcome (the message is written to read after "not assessable: "). */
export function priorFailure(reason: PriorFailureReason, message: string, retryable = false): PriorOutcome & { ok: false } {
  return { ok: false, reason, message, ...(retryable ? { retryable } : {}) };
}

