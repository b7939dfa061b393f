/**
 * Where a study's results go: the destinations of the local AE title that received it, plus "back to the
 * sender" (the calling AE) when that local AE title has replyToSender and the source is known with a port.
 * Resolved once, when results are queued; the resolved target is recorded in the delivery job.
 */
import type { LocalAeTitle, Source } from '../config/schema';
import type { Destination } from '../core/destination-schemas';
import { targetFromDestination, type DeliveryTarget } from './destination-types';

export { targetFromDestination, type DeliveryTarget } from './destination-types';

/** The destination column of a reply-to-sender job: 'sender:<AE>' (':' cannot occur in destination names). */
export const SENDER_PREFIX = 'sender:';

export interface RoutingInput {
  calledAeTitle: string;
  callingAeTitle?: string;
  /** Network address the study came from; used for replies when the source has no host configured. */
  callingHost?: string;
}

export interface RoutingSettings {
  localAeTitle(aeTitle: string): LocalAeTitle | undefined;
  source(aeTitle: string): Source | undefined;
  destination(name: string): Destination | undefined;
}

export interface Routing {
  targets: DeliveryTarget[];
  /** Routes that were configured but not used, with the reason (for the job log and the operator). */
  skipped: { key: string; reason: string }[];
}

export function resolveRouting(input: RoutingInput, settings: RoutingSettings): Routing {
  const targets: DeliveryTarget[] = [];
  const skipped: Routing['skipped'] = [];
  const local = settings.localAeTitle(input.calledAeTitle);
  if (!local) {
    return { targets, skipped: [{ key: input.calledAeTitle, reason: `no local AE title ${input.calledAeTitle}` }] };
  }
  for (const name of new Set(local.destinations)) {
    const d = settings.destination(name);
    if (!d) skipped.push({ key: name, reason: 'destination not configured' });
    else if (!d.enabled) skipped.push({ key: name, reason: 'destination disabled' });
    else targets.push(targetFromDestination(d, local.aeTitle));
  }
  if (local.replyToSender && input.callingAeTitle) {
    const key = SENDER_PREFIX + input.callingAeTitle;
    const source = settings.source(input.callingAeTitle);
    const host = source?.host ?? input.callingHost;
    if (!source) skipped.push({ key, reason: 'calling AE title is not a configured source' });
    else if (source.port === undefined) skipped.push({ key, reason: 'source has no port' });
    else if (!host) skipped.push({ key, reason: 'source has no host and the calling address is unknown' });
    else if (targets.some((t) => t.type === 'dimse' && t.aeTitle === source.aeTitle && t.host === host && t.port === source.port)) {
      skipped.push({ key, reason: 'the sender is already a destination' });
    } else {
      targets.push({ type: 'dimse', key, origin: 'sender', aeTitle: source.aeTitle, host, port: source.port, callingAeTitle: local.aeTitle });
    }
  }
  return { targets, skipped };
}
