/**
 * DICOM UIDs the node uses by name, and the node's own UID generator.
 * No other module writes a bare '1.2.840...' literal.
 */
import { randomUUID, createHash } from 'node:crypto';

export const TransferSyntax = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JpegBaseline: '1.2.840.10008.1.2.4.50',
  JpegLossless: '1.2.840.10008.1.2.4.57',
  JpegLosslessSv1: '1.2.840.10008.1.2.4.70',
  JpegLsLossless: '1.2.840.10008.1.2.4.80',
  JpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  Jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  Jpeg2000: '1.2.840.10008.1.2.4.91',
  RleLossless: '1.2.840.10008.1.2.5',
} as const;
export type TransferSyntaxUid = (typeof TransferSyntax)[keyof typeof TransferSyntax];

/** Syntaxes whose pixel data is stored natively (not encapsulated). */
export const NativeTransferSyntaxes: ReadonlySet<string> = new Set([
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
]);

export const SopClass = {
  Verification: '1.2.840.10008.1.1',
  MrImageStorage: '1.2.840.10008.5.1.4.1.1.4',
  EnhancedMrImageStorage: '1.2.840.10008.5.1.4.1.1.4.1',
  SecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7',
  MultiFrameTrueColorSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.4',
  EnhancedSr: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSr: '1.2.840.10008.5.1.4.1.1.88.33',
  Comprehensive3dSr: '1.2.840.10008.5.1.4.1.1.88.34',
  StudyRootQueryRetrieveFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootQueryRetrieveMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootQueryRetrieveGet: '1.2.840.10008.5.1.4.1.2.2.3',
} as const;

/** Storage SOP classes the receiver accepts. */
export const AcceptedStorageSopClasses: ReadonlySet<string> = new Set([
  SopClass.MrImageStorage,
  SopClass.EnhancedMrImageStorage,
]);

/** The node's implementation identity (file meta and association negotiation). */
export const ImplementationClassUid = '2.25.260917465937384512297318049211446231339';
export const ImplementationVersionName = 'NPCAI_0_1_0';

const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

/** True when `uid` is a syntactically valid DICOM UID (digits and dots, no leading zeros, <= 64 chars). */
export function isValidUid(uid: unknown): uid is string {
  return typeof uid === 'string' && uid.length > 0 && uid.length <= 64 && UID_PATTERN.test(uid);
}

/** A fresh UID under the 2.25 root, derived from a random UUID (always < 2^128, so always valid). */
export function newUid(): string {
  return uuidToUid(randomUUID());
}

/**
 * A deterministic UID under 2.25 derived from a name: the same name always gives the same UID.
 * Used so that re-sending the same analysis version re-uses the same SOP Instance UIDs.
 */
export function deterministicUid(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex').slice(0, 32);
  // Shape it as a version-8 (custom) UUID so that the value space matches RFC 9562.
  const bytes = Buffer.from(hex, 'hex');
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return '2.25.' + BigInt('0x' + bytes.toString('hex')).toString(10);
}

function uuidToUid(uuid: string): string {
  return '2.25.' + BigInt('0x' + uuid.replace(/-/g, '')).toString(10);
}
