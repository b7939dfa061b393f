/**
 * Which of the studies a PACS returned is the patient's prior for the progression analysis (paper 001):
 * the closest earlier MR study of the same patient (the current study is then the post-treatment one), or,
 * when there is none, the closest later one (the current study is the pre-treatment one), as
 * analyses/progression.ts orders studies by StudyDate. Never another patient's: PatientID and
 * IssuerOfPatientID must match exactly, and birth date and sex when both sides have them. A study on the
 * same date cannot be ordered and is not chosen. Pure: no I/O, no clock.
 */
import type { CurrentStudy, StudyMatch } from './prior-types';

export type PriorChoice =
  | { ok: true; match: StudyMatch; relation: 'earlier' | 'later' }
  | { ok: false; reason: 'no-match' | 'patient-mismatch'; message: string };

/** Why a match is not the same patient, or undefined when it is. */
export function patientMismatch(current: CurrentStudy, m: StudyMatch): string | undefined {
  if (norm(m.PatientID) !== norm(current.PatientID)) return 'another PatientID';
  if (norm(m.IssuerOfPatientID) !== norm(current.IssuerOfPatientID)) return 'another issuer of the PatientID';
  const bd = [norm(current.PatientBirthDate), norm(m.PatientBirthDate)];
  if (bd[0] && bd[1] && bd[0] !== bd[1]) return 'another birth date';
  const sex = [norm(current.PatientSex).toUpperCase(), norm(m.PatientSex).toUpperCase()];
  if (sex[0] && sex[1] && sex[0] !== sex[1]) return 'another sex';
  return undefined;
}

export function choosePriorStudy(current: CurrentStudy, matches: readonly StudyMatch[]): PriorChoice {
  const samePatient: StudyMatch[] = [];
  let otherPatients = 0;
  for (const m of matches) {
    if (m.StudyInstanceUID === current.StudyInstanceUID) continue;
    if (m.ModalitiesInStudy?.length && !m.ModalitiesInStudy.includes('MR')) continue;
    if (patientMismatch(current, m)) otherPatients++;
    else samePatient.push(m);
  }
  const day = dayNumber(current.StudyDate);
  if (day === undefined) {
    return { ok: false, reason: 'no-match', message: 'the study has no valid StudyDate, so no other study can be told pre- or post-treatment' };
  }
  const dated = samePatient
    .map((m) => ({ m, d: dayNumber(m.StudyDate) }))
    .filter((x): x is { m: StudyMatch; d: number } => x.d !== undefined && x.d !== day);
  const byCloseness = (a: { d: number; m: StudyMatch }, b: { d: number; m: StudyMatch }) =>
    Math.abs(a.d - day) - Math.abs(b.d - day) || timeOf(b.m) - timeOf(a.m) || (a.m.StudyInstanceUID < b.m.StudyInstanceUID ? -1 : 1);
  const earlier = dated.filter((x) => x.d < day).sort(byCloseness);
  if (earlier[0]) return { ok: true, match: earlier[0].m, relation: 'earlier' };
  const later = dated.filter((x) => x.d > day).sort(byCloseness);
  if (later[0]) return { ok: true, match: later[0].m, relation: 'later' };
  if (otherPatients > 0 && samePatient.length === 0) {
    return {
      ok: false,
      reason: 'patient-mismatch',
      message: `the PACS holds ${otherPatients} MR ${otherPatients === 1 ? 'study that belongs' : 'studies that belong'} under this PatientID to another patient (issuer, birth date or sex differ); none was used`,
    };
  }
  if (samePatient.length > 0) {
    return { ok: false, reason: 'no-match', message: 'the PACS holds no other MR study of this patient on another date (pre- and post-treatment MR are both needed)' };
  }
  return { ok: false, reason: 'no-match', message: 'the PACS holds no other MR study of this patient in the look-back window' };
}

function norm(s: string | undefined): string {
  return (s ?? '').trim();
}

/** Days since the epoch of a DICOM DA (YYYYMMDD), or undefined when it is not one. */
export function dayNumber(da: string | undefined): number | undefined {
  if (!da || !/^\d{8}$/.test(da)) return undefined;
  const t = Date.UTC(+da.slice(0, 4), +da.slice(4, 6) - 1, +da.slice(6, 8));
  return Number.isFinite(t) ? Math.round(t / 86_400_000) : undefined;
}

/** A DICOM DA for a day number (inverse of dayNumber). */
export function daString(day: number): string {
  const d = new Date(day * 86_400_000);
  return `${d.getUTCFullYear().toString().padStart(4, '0')}${(d.getUTCMonth() + 1).toString().padStart(2, '0')}${d.getUTCDate().toString().padStart(2, '0')}`;
}

/** The StudyDate range matching key for a look-back window around the current study (both directions). */
export function studyDateRange(studyDate: string | undefined, lookbackDays: number): string {
  const day = dayNumber(studyDate);
  if (day === undefined) return '';
  return `${daString(day - lookbackDays)}-${daString(day + lookbackDays)}`;
}

function timeOf(m: StudyMatch): number {
  const t = (m.StudyTime ?? '').replace(/[^0-9]/g, '').slice(0, 6);
  return t ? Number(t.padEnd(6, '0')) : 0;
}
