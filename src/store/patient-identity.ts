/**
 * A patient's identity as an instance states it (PatientID with IssuerOfPatientID; birth date and sex),
 * and whether two such identities can be the same patient: PatientID and issuer must match exactly (after
 * trimming), birth date and sex only when both sides state them. Pure: no I/O.
 */
import type { InstanceHeader } from '../core/instance-header';

export interface PatientIdentity {
  patientId: string;
  issuer: string;
  birthDate: string;
  sex: string;
}

export function identityOf(h: Partial<InstanceHeader>): PatientIdentity {
  return {
    patientId: text(h.PatientID),
    issuer: text(h.IssuerOfPatientID),
    birthDate: text(h.PatientBirthDate),
    sex: text(h.PatientSex).toUpperCase(),
  };
}

/** Which attribute says these are different patients (no patient data in the answer), or undefined. */
export function identityMismatch(study: PatientIdentity, instance: PatientIdentity): string | undefined {
  if (study.patientId !== instance.patientId) return 'PatientID';
  if (study.issuer !== instance.issuer) return 'IssuerOfPatientID';
  if (study.birthDate && instance.birthDate && study.birthDate !== instance.birthDate) return 'PatientBirthDate';
  if (study.sex && instance.sex && study.sex !== instance.sex) return 'PatientSex';
  return undefined;
}

function text(v: unknown): string {
  return typeof v === 'string' ? v.trim() : '';
}
