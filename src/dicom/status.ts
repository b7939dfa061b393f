/**
 * DIMSE status codes (PS3.4 Annex B for Storage, PS3.7 Annex C) by name, and their categories.
 * No other module writes a bare status literal.
 */
export const Status = {
  Success: 0x0000,
  /** Storage: Refused, out of resources (PS3.4 B.2.3). */
  OutOfResources: 0xa700,
  /** Storage: Error, data set does not match SOP class (PS3.4 B.2.3). */
  DataSetDoesNotMatchSopClass: 0xa900,
  /** Storage: Error, cannot understand (PS3.4 B.2.3). 0xC000-0xCFFF. */
  CannotUnderstand: 0xc000,
  /** Storage: Warning, coercion of data elements. */
  CoercionOfDataElements: 0xb000,
  /** Storage: Warning, elements discarded. */
  ElementsDiscarded: 0xb006,
  /** General: processing failure (PS3.7 C.4.1.1.5 / the dcmjs-dimse default). */
  ProcessingFailure: 0x0110,
  /** General: duplicate SOP instance (PS3.7 C.5.9). */
  DuplicateSopInstance: 0x0111,
  SopClassNotSupported: 0x0122,
  /**
   * Storage: Error, a different object under an already stored SOP Instance UID (conflictPolicy 'reject').
   * An implementation code in the "does not match SOP class" A9xx range (PS3.4 B.2.3).
   */
  DuplicateWithDifferentContent: 0xa9ff,
  /**
   * Storage: Error, the instance's patient identity (PatientID, issuer, birth date, sex) differs from that of
   * the study it names (storage.patientIdentityMismatch 'refuse'). An implementation code in the A9xx range.
   */
  PatientIdentityMismatch: 0xa9fe,
  /** STOW-RS failure reason: referenced transfer syntax not supported (PS3.18 / PS3.4 Annex B). */
  TransferSyntaxNotSupported: 0xc122,
  /** Query/Retrieve: Pending, matches are continuing (PS3.4 C.4.1.1.4, C.4.2.1.5, C.4.3.1.4). */
  Pending: 0xff00,
  /** Query/Retrieve C-FIND: Pending, some optional keys were not supported (PS3.4 C.4.1.1.4). */
  PendingOptionalKeysNotSupported: 0xff01,
  /** Query/Retrieve C-MOVE: Refused, move destination unknown (PS3.4 C.4.2.1.5). */
  MoveDestinationUnknown: 0xa801,
  /** Query/Retrieve C-FIND/C-MOVE/C-GET: Cancel (PS3.4 C.4). */
  Cancel: 0xfe00,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

export type StatusCategory = 'success' | 'warning' | 'failure' | 'cancel' | 'pending';

/** Puts any DIMSE status code into its category (PS3.7 C.1). */
export function statusCategory(code: number): StatusCategory {
  if (code === 0x0000) return 'success';
  if (code === 0xfe00) return 'cancel';
  if (code === 0xff00 || code === 0xff01) return 'pending';
  if (code === 0x0001 || code === 0x0107 || code === 0x0116 || (code >= 0xb000 && code <= 0xbfff)) return 'warning';
  return 'failure';
}
