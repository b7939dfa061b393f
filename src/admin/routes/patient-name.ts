/** PatientName for the web page: shown only when web.showPatientNames is on (the caller decides). */

/** A naturalized PN value (string, {Alphabetic}, or a list of them) as readable text: "DOE^JANE" -> "DOE JANE". */
export function personNameText(raw: unknown): string | null {
  const first = Array.isArray(raw) ? raw[0] : raw;
  const text = typeof first === 'string' ? first : first && typeof first === 'object' ? (first as { Alphabetic?: unknown }).Alphabetic : undefined;
  if (typeof text !== 'string' || text.trim() === '') return null;
  return text.replace(/\^+/g, ' ').trim();
}

/** `{ patientName }` when names are shown, else nothing (the key is absent, not null). */
export function patientNameField(raw: unknown, show: boolean): { patientName?: string | null } {
  return show ? { patientName: personNameText(raw) } : {};
}
