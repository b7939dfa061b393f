/**
 * The destination types, one module each, and the only dispatch on a destination's or target's `type`.
 * The table is keyed by every DestinationType (src/core/destination-schemas.ts): a type added there without
 * a module here does not compile, so it cannot fall through to another type's protocol.
 */
import { z } from 'zod';
import type { Destination, DestinationOf, DestinationType } from '../../core/destination-schemas';
import type { StoreFile } from '../cstore-scu';
import type { EchoResult } from '../echo';
import { DicomwebTargetSchema, dicomwebDestinations } from './dicomweb';
import { DimseTargetSchema, dimseDestinations } from './dimse';
import type { AttemptOutcome, DestinationTypeModule, EchoOptions, SendContext, TargetBase } from './types';

export type { AttemptOutcome, DestinationTypeModule, EchoOptions, SendContext, TargetBase } from './types';
export type { DimseTarget } from './dimse';
export type { DicomwebTarget } from './dicomweb';

/** Every destination type's module, by type. */
export const DESTINATION_TYPES = {
  dimse: dimseDestinations,
  dicomweb: dicomwebDestinations,
} as const satisfies { [K in DestinationType]: DestinationTypeModule<DestinationOf<K>, TargetBase & { type: K }> };

/** The target recorded in a delivery job (one schema, shared by routing and the outbox's payload). */
export const DeliveryTargetSchema = z.discriminatedUnion('type', [DimseTargetSchema, DicomwebTargetSchema]);
export type DeliveryTarget = z.infer<typeof DeliveryTargetSchema>;
export type TargetOf<K extends DestinationType> = Extract<DeliveryTarget, { type: K }>;

// Compile-time check that the target union covers exactly the destination types.
const targetTypesCoverDestinationTypes: [DeliveryTarget['type']] extends [DestinationType] ? ([DestinationType] extends [DeliveryTarget['type']] ? true : never) : never = true;
void targetTypesCoverDestinationTypes;

type ModuleOf<K extends DestinationType> = DestinationTypeModule<DestinationOf<K>, TargetOf<K>>;

/**
 * The module of one type. The one place a type is turned into its module: `destinationType(d.type).echo(d)`
 * is type-safe because the module is chosen by the same value's `type`. Throws for a type no module has
 * (possible only for data that bypassed the schemas).
 */
export function destinationType<K extends DestinationType>(type: K): ModuleOf<K> {
  const m = (DESTINATION_TYPES as { readonly [J in DestinationType]?: unknown })[type];
  if (m === undefined) throw new Error(`unknown destination type ${JSON.stringify(type)}`);
  return m as ModuleOf<K>;
}

export function targetFromDestination(d: Destination, calledAeTitle: string): DeliveryTarget {
  return destinationType(d.type).target(d, calledAeTitle);
}

export function describeTarget(t: DeliveryTarget): string {
  return destinationType(t.type).describe(t);
}

/** The default sender: each target by its type's protocol (C-STORE, STOW-RS). */
export function sendToTarget(t: DeliveryTarget, files: StoreFile[], ctx: SendContext): Promise<AttemptOutcome> {
  return destinationType(t.type).send(t, files, ctx);
}

export function destinationCredentials(d: Destination): Pick<SendContext, 'authorization'> {
  return destinationType(d.type).credentials(d);
}

export function publicDestination(d: Destination): Record<string, unknown> {
  return destinationType(d.type).publicView(d);
}

/** The stored fields a PUT body without them keeps (see DestinationTypeModule.keptOnUpdate). */
export function keptOnUpdate(existing: Destination, body: Record<string, unknown>): Partial<Destination> {
  return destinationType(existing.type).keptOnUpdate(existing, body);
}

/** Verification of a destination by its type's means; never throws, says what happened and how long it took. */
export async function echoDestination(d: Destination, opts: EchoOptions): Promise<EchoResult> {
  const started = Date.now();
  const r = await destinationType(d.type).echo(d, opts);
  return { ...r, ms: Date.now() - started };
}
