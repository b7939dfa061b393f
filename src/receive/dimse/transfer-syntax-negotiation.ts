/**
 * Presentation context negotiation (PS3.8 9.3.2.2, PS3.7 D.3.3.1): for each proposed abstract syntax, accept
 * the first transfer syntax of the node's own preference list that the peer proposed. Storage classes other
 * than MR / Enhanced MR are refused as "abstract syntax not supported"; deflate is never accepted.
 */
import { AcceptedStorageSopClasses, SopClass, TransferSyntax } from '../../dicom/uids';

export type NegotiationResult =
  | { result: 'accept'; transferSyntaxUid: string }
  | { result: 'abstract-syntax-not-supported' }
  | { result: 'transfer-syntaxes-not-supported' };

const VERIFICATION_SYNTAXES = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

/** The accepted syntaxes in preference order, without duplicates or deflate. */
export function storagePreference(configured: readonly string[]): string[] {
  return [...new Set(configured)].filter((t) => t !== TransferSyntax.DeflatedExplicitVRLittleEndian);
}

export function negotiatePresentationContext(
  abstractSyntaxUid: string,
  proposedTransferSyntaxes: readonly string[],
  preference: readonly string[],
): NegotiationResult {
  const proposed = new Set(proposedTransferSyntaxes.map((t) => t.replace(/\0/g, '').trim()));
  let candidates: readonly string[];
  if (abstractSyntaxUid === SopClass.Verification) candidates = VERIFICATION_SYNTAXES;
  else if (AcceptedStorageSopClasses.has(abstractSyntaxUid)) candidates = storagePreference(preference);
  else return { result: 'abstract-syntax-not-supported' };
  const chosen = candidates.find((t) => proposed.has(t));
  return chosen ? { result: 'accept', transferSyntaxUid: chosen } : { result: 'transfer-syntaxes-not-supported' };
}
