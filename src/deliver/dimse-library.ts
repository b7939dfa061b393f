/**
 * The deliver stage's use of dcmjs-dimse's process-wide logger: it only makes sure the routing that
 * logging/dimse-library-log.ts owns is in place (it never silences the receiver's library warnings).
 */
import { ensureDimseLibraryLog } from '../logging/dimse-library-log';

/** Puts the library's log routing in place if the composition root has not yet (idempotent). */
export function quietDimseLibrary(): void {
  ensureDimseLibraryLog();
}
