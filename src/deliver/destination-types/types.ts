/**
 * What every destination type provides: one module per type (dimse.ts, dicomweb.ts), listed in index.ts.
 * Like an IOD class, a type holds its schema and its behaviour together, so nothing else in the node
 * branches on `destination.type`.
 */
import type { z } from 'zod';
import type { Destination } from '../../core/destination-schemas';
import type { InstanceOutcome, StoreFile } from '../cstore-scu';
import type { EchoResult } from '../echo';

/** What a delivery target of any type records (in the job's payload). */
export interface TargetBase {
  type: Destination['type'];
  /** Destination name, or 'sender:<AE>' for a reply to the calling AE (see routing.ts). */
  key: string;
  origin: 'destination' | 'sender';
}

/** The outcome of one attempt to send a batch: per SOP instance, plus a batch-level problem if any. */
export interface AttemptOutcome {
  results: InstanceOutcome[];
  error?: string;
}

export interface SendContext {
  signal: AbortSignal;
  /** Credentials read from the destination at send time (never recorded in the job). */
  authorization?: string;
  responseTimeoutSeconds: number;
}

export interface EchoOptions {
  /** Our calling AE title, where the type needs one and the destination names none. */
  callingAeTitle: string;
  timeoutSeconds: number;
}

export interface DestinationTypeModule<D extends Destination, T extends TargetBase> {
  readonly type: D['type'];
  /** The configuration schema (from src/core/destination-schemas.ts). */
  readonly schema: z.ZodType<D, unknown>;
  /** The schema of the target recorded in a delivery job. */
  readonly targetSchema: z.ZodType<T, unknown>;
  /** The target for results of a study received by `calledAeTitle`. */
  target(d: D, calledAeTitle: string): T;
  /** One line for the job history: protocol and address. */
  describe(t: T): string;
  /** Sends one batch; must not throw for peer or network problems. */
  send(t: T, files: StoreFile[], ctx: SendContext): Promise<AttemptOutcome>;
  /** Verification (C-ECHO, an HTTP check); never throws. */
  echo(d: D, opts: EchoOptions): Promise<Omit<EchoResult, 'ms'>>;
  /** What the admin API shows: everything but secrets. */
  publicView(d: D): Record<string, unknown>;
  /** The send-time credentials of a destination. */
  credentials(d: D): Pick<SendContext, 'authorization'>;
  /**
   * Fields of the stored destination that a PUT body without them keeps (secrets the API never shows,
   * so clients cannot send them back).
   */
  keptOnUpdate(existing: D, body: Record<string, unknown>): Partial<D>;
}
