/**
 * Association acceptance policy (PS3.8 7.1.1.9): the called AE title must be one of the node's local AE
 * titles; the calling AE title must be a configured source (from its configured host, when one is set)
 * unless unknown sources are allowed; and the number of concurrent associations is capped.
 */
import { isIP } from 'node:net';
import type { Source } from '../../config/schema';

export interface AssociationRequestFacts {
  calledAeTitle: string;
  callingAeTitle: string;
  remoteAddress: string | undefined;
  /** Associations already open (accepted or being negotiated), this one excluded. */
  openAssociations: number;
}

export interface AssociationPolicyInput {
  localAeTitles: readonly string[];
  sources: readonly Source[];
  allowUnknownSources: boolean;
  maxAssociations: number;
  /** Addresses a source's host name resolves to (host -> addresses); IP hosts need no entry. */
  resolvedHosts?: ReadonlyMap<string, readonly string[]>;
}

export type AssociationDecision =
  | { accept: true; source: Source | undefined }
  | { accept: false; reason: 'called-ae-not-recognized' | 'calling-ae-not-recognized' | 'local-limit-exceeded'; message: string };

/** '::ffff:127.0.0.1' -> '127.0.0.1'. */
export function normalizeAddress(a: string | undefined): string | undefined {
  if (!a) return a;
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

export function hostMatches(host: string, remoteAddress: string | undefined, resolved?: ReadonlyMap<string, readonly string[]>): boolean {
  const remote = normalizeAddress(remoteAddress);
  if (!remote) return false;
  if (isIP(host)) return normalizeAddress(host) === remote;
  const addrs = resolved?.get(host) ?? (host.toLowerCase() === 'localhost' ? ['127.0.0.1', '::1'] : []);
  return addrs.map(normalizeAddress).includes(remote);
}

export function decideAssociation(req: AssociationRequestFacts, policy: AssociationPolicyInput): AssociationDecision {
  const called = req.calledAeTitle.trim();
  const calling = req.callingAeTitle.trim();
  if (!policy.localAeTitles.some((t) => t === called)) {
    return { accept: false, reason: 'called-ae-not-recognized', message: `called AE title "${called}" is not a local AE title` };
  }
  const source = policy.sources.find((s) => s.aeTitle === calling);
  if (!source && !policy.allowUnknownSources) {
    return { accept: false, reason: 'calling-ae-not-recognized', message: `calling AE title "${calling}" is not a configured source` };
  }
  if (source?.host && !hostMatches(source.host, req.remoteAddress, policy.resolvedHosts) && !policy.allowUnknownSources) {
    return { accept: false, reason: 'calling-ae-not-recognized', message: `calling AE title "${calling}" is not allowed from ${normalizeAddress(req.remoteAddress)}` };
  }
  if (req.openAssociations >= policy.maxAssociations) {
    return { accept: false, reason: 'local-limit-exceeded', message: `${policy.maxAssociations} associations already open` };
  }
  return { accept: true, source };
}
