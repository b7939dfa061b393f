/**
 * Header modules shared by the SR and the Secondary Capture: Patient, General Study, General Equipment,
 * SOP Common pieces, dates and times. Patient and study text is copied from the source MR header, which
 * receive/ stored already decoded to Unicode (src/dicom/charset.ts); it is written as ISO_IR 192.
 */
import type { InstanceHeader } from '../core/instance-header';
import { stripControlCharacters, splitPersonName, type PersonNameComponents } from '../dicom/charset';
import type { DeviceIdentity } from './types';
import type { NaturalDataset } from './write-part10';
import { PRIVATE_CODING_SCHEME } from './sr/codes';

/** DICOM DA (YYYYMMDD) in local time. */
export function formatDicomDate(date: Date): string {
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}`;
}

/** DICOM TM (HHMMSS) in local time. */
export function formatDicomTime(date: Date): string {
  return `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

/** DICOM DT with UTC offset. */
export function formatDicomDateTime(date: Date): string {
  return `${formatDicomDate(date)}${formatDicomTime(date)}${formatTimezoneOffset(date)}`;
}

export function formatTimezoneOffset(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? '+' : '-';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Cleans a string value and clips it to the VR's maximum length in characters. */
export function cleanText(value: unknown, maxLength: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = stripControlCharacters(String(Array.isArray(value) ? value.join('\\') : value)).trim();
  return text.length > maxLength ? text.slice(0, maxLength) : text;
}

/** A PN value from whatever the header holds (naturalized array, object or string), cleaned. */
export function cleanPersonName(value: unknown): PersonNameComponents[] | '' {
  if (value === undefined || value === null || value === '') return '';
  const first = Array.isArray(value) ? value[0] : value;
  let pn: PersonNameComponents;
  if (typeof first === 'string') pn = splitPersonName(first);
  else if (first && typeof first === 'object') pn = first as PersonNameComponents;
  else return '';
  const out: PersonNameComponents = {};
  for (const group of ['Alphabetic', 'Ideographic', 'Phonetic'] as const) {
    const v = pn[group] === undefined ? undefined : cleanText(pn[group], 64);
    if (v) out[group] = v;
  }
  return Object.keys(out).length ? [out] : '';
}

/** Patient module (and Patient Study attributes that are known) copied from the source header. */
export function patientModule(study: InstanceHeader): NaturalDataset {
  const ds: NaturalDataset = {
    PatientName: cleanPersonName(study.PatientName),
    PatientID: cleanText(study.PatientID, 64) ?? '',
    PatientBirthDate: cleanText(study.PatientBirthDate, 8) ?? '',
    PatientSex: cleanText(study.PatientSex, 16) ?? '',
  };
  if (typeof study.IssuerOfPatientID === 'string') ds.IssuerOfPatientID = cleanText(study.IssuerOfPatientID, 64);
  if (study.PatientAge) ds.PatientAge = cleanText(study.PatientAge, 4);
  return ds;
}

/** General Study module: same StudyInstanceUID, accession number and study identifiers as the MR. */
export function generalStudyModule(study: InstanceHeader): NaturalDataset {
  const ds: NaturalDataset = {
    StudyInstanceUID: study.StudyInstanceUID,
    StudyDate: cleanText(study.StudyDate, 8) ?? '',
    StudyTime: cleanText(study.StudyTime, 16) ?? '',
    ReferringPhysicianName: cleanPersonName(study.ReferringPhysicianName),
    StudyID: cleanText(study.StudyID, 16) ?? '',
    AccessionNumber: cleanText(study.AccessionNumber, 16) ?? '',
  };
  if (study.StudyDescription) ds.StudyDescription = cleanText(study.StudyDescription, 64);
  return ds;
}

/** General Equipment module describing the node. */
export function generalEquipmentModule(device: DeviceIdentity): NaturalDataset {
  const ds: NaturalDataset = {
    Manufacturer: cleanText(device.manufacturer, 64),
    ManufacturerModelName: cleanText(device.modelName, 64),
    DeviceSerialNumber: cleanText(device.serialNumber, 64),
    SoftwareVersions: cleanText(device.softwareVersion, 64),
  };
  if (device.institutionName) ds.InstitutionName = cleanText(device.institutionName, 64);
  return ds;
}

/** CodingSchemeIdentificationSequence declaring the node's private scheme. */
export function codingSchemeIdentification(): NaturalDataset[] {
  return [
    {
      CodingSchemeDesignator: PRIVATE_CODING_SCHEME.designator,
      CodingSchemeName: PRIVATE_CODING_SCHEME.name,
      CodingSchemeVersion: PRIVATE_CODING_SCHEME.version,
      CodingSchemeResponsibleOrganization: PRIVATE_CODING_SCHEME.responsibleOrganization,
    },
  ];
}
