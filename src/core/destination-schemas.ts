/**
 * The configuration of a destination (where results go), one zod schema per destination type. Pure data:
 * config/schema.ts validates the config file with these and store/settings-repository.ts what the admin
 * API stores; the behaviour of each type (target, send, echo, public view) is its module in
 * src/deliver/destination-types/. Adding a type: its schema here, in DestinationSchema's list, and its
 * module there (the compiler names the table that is missing it).
 */
import { z } from 'zod';
import { AeTitleSchema } from './ae-title-schema';

export const SrSopClassSchema = z.enum(['comprehensive3d', 'comprehensive', 'enhanced']);
export const ScSopClassSchema = z.enum(['sc', 'multiframe-true-color']);

const destinationCommon = {
  name: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'destination name: letters, digits, _ . -'),
  srSopClass: SrSopClassSchema.default('comprehensive3d'),
  scSopClass: ScSopClassSchema.default('sc'),
  enabled: z.boolean().default(true),
};

/** TLS to a DIMSE destination (PS3.15 B.9, BCP 195 profile); PEM files. */
export const DimseClientTlsSchema = z.strictObject({
  /** CAs that may sign the destination's certificate (default: the system's). */
  caFile: z.string().min(1).optional(),
  /** Our client certificate and key, for destinations that require one. */
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  /** Check the destination's certificate and host name (default true; false only for tests). */
  rejectUnauthorized: z.boolean().default(true),
});
export type DimseClientTls = z.infer<typeof DimseClientTlsSchema>;

/** A PACS reached by C-STORE (PS3.4 Annex B) over DIMSE. */
export const DimseDestinationSchema = z.strictObject({
  ...destinationCommon,
  type: z.literal('dimse'),
  aeTitle: AeTitleSchema,
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
  /** Our calling AE title for this destination (defaults to the local AE that received the study). */
  callingAeTitle: AeTitleSchema.optional(),
  /** Reach the destination over DICOM TLS. */
  tls: DimseClientTlsSchema.optional(),
  /**
   * How a prior study is fetched from this PACS when it is a priors source: 'c-move' (the PACS sends it to
   * the node's own AE title, so it must know the node) or 'c-get' (on the same association). Unset: 'c-move'.
   */
  retrieve: z.enum(['c-move', 'c-get']).optional(),
});
export type DimseDestination = z.infer<typeof DimseDestinationSchema>;

/** A DICOMweb origin server reached by STOW-RS (PS3.18 §10.5). */
export const DicomwebDestinationSchema = z.strictObject({
  ...destinationCommon,
  type: z.literal('dicomweb'),
  /** http(s) only: a data:, file: or other scheme would make the node read or write somewhere else. */
  url: z.url({ protocol: /^https?$/, error: 'url must be an http:// or https:// URL' }),
  /** Optional bearer token or basic credentials, sent as the Authorization header. */
  authorization: z.string().optional(),
  /** PEM bundle of CAs that may sign an https server's certificate (default: the system's). */
  caFile: z.string().min(1).optional(),
});
export type DicomwebDestination = z.infer<typeof DicomwebDestinationSchema>;

export const DestinationSchema = z.discriminatedUnion('type', [DimseDestinationSchema, DicomwebDestinationSchema]);
export type Destination = z.infer<typeof DestinationSchema>;

export type DestinationType = Destination['type'];
/** The destination of one type. */
export type DestinationOf<K extends DestinationType> = Extract<Destination, { type: K }>;
