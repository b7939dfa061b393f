/**
 * Finds the patient's MR studies on a PACS: C-FIND SCU at study level in the Study Root information model
 * (PS3.4 C.6.2) over DIMSE, or QIDO-RS SearchForStudies (PS3.18 10.6) over DICOMweb. Matching keys:
 * PatientID, IssuerOfPatientID (when the study has one), ModalitiesInStudy MR and a StudyDate range of
 * lookbackDays either side of the current study; the return keys are what choose-prior-study needs.
 * Never throws: failures become typed outcomes (pacs-unreachable is retryable).
 */
import { requests } from 'dcmjs-dimse';
import { statusCategory } from '../dicom/status';
import { studyDateRange } from './choose-prior-study';
import { describeStatus, exchange, type DimseTarget } from './dimse-association';
import { priorFailure, type CurrentStudy, type PriorOutcome, type StudyMatch } from './prior-types';
import { errorMessage } from '../util/error-message';
import { dicomwebGet } from './dicomweb-get';

const { CFindRequest } = requests;

export type FindOutcome = { ok: true; matches: StudyMatch[] } | (PriorOutcome & { ok: false });

export interface FindOptions {
  lookbackDays: number;
  responseTimeoutSeconds: number;
  signal?: AbortSignal;
  /** Most matches read (a PACS answering with more is cut off there). */
  maxMatches?: number;
}

/** The C-FIND identifier (naturalized keywords; '' asks for a return key). */
export function studyFindIdentifier(current: CurrentStudy, lookbackDays: number): Record<string, unknown> {
  return {
    QueryRetrieveLevel: 'STUDY',
    PatientID: current.PatientID,
    IssuerOfPatientID: current.IssuerOfPatientID ?? '',
    ModalitiesInStudy: 'MR',
    StudyDate: studyDateRange(current.StudyDate, lookbackDays),
    StudyInstanceUID: '',
    StudyTime: '',
    PatientName: '',
    PatientBirthDate: '',
    PatientSex: '',
    AccessionNumber: '',
    NumberOfStudyRelatedInstances: '',
  };
}

/** C-FIND over DIMSE. */
export async function findPriorStudiesDimse(target: DimseTarget, current: CurrentStudy, opts: FindOptions): Promise<FindOutcome> {
  const request = CFindRequest.createStudyFindRequest(studyFindIdentifier(current, opts.lookbackDays));
  const ex = await exchange(target, request, { responseTimeoutSeconds: opts.responseTimeoutSeconds, ...(opts.signal ? { signal: opts.signal } : {}) });
  if (!ex.associated) {
    return priorFailure('pacs-unreachable', `the PACS ${target.calledAeTitle} at ${target.host}:${target.port} could not be reached (${ex.error ?? 'no association'})`, true);
  }
  if (!ex.final) return priorFailure('query-failed', `the PACS ${target.calledAeTitle} did not complete the C-FIND (${ex.error ?? 'no final response'})`, !ex.aborted);
  const cat = statusCategory(ex.final.getStatus());
  if (cat !== 'success') return priorFailure('query-failed', `the PACS ${target.calledAeTitle} answered the C-FIND with ${describeStatus(ex.final)}`);
  const matches: StudyMatch[] = [];
  for (const r of ex.responses) {
    if (statusCategory(r.getStatus()) !== 'pending') continue;
    const ds = (r as unknown as { getDataset(): { getElements(): Record<string, unknown> } | undefined }).getDataset();
    const m = ds && studyMatchFromNaturalized(ds.getElements());
    if (m) matches.push(m);
    if (opts.maxMatches && matches.length >= opts.maxMatches) break;
  }
  return { ok: true, matches };
}

/** A match from a naturalized C-FIND identifier (dcmjs: DS/IS numbers, VM > 1 arrays, PN objects). */
export function studyMatchFromNaturalized(e: Record<string, unknown>): StudyMatch | undefined {
  const uid = str(e.StudyInstanceUID);
  if (!uid) return undefined;
  return compact({
    StudyInstanceUID: uid,
    PatientID: str(e.PatientID),
    IssuerOfPatientID: str(e.IssuerOfPatientID),
    PatientBirthDate: str(e.PatientBirthDate),
    PatientSex: str(e.PatientSex),
    StudyDate: str(e.StudyDate),
    StudyTime: str(e.StudyTime),
    AccessionNumber: str(e.AccessionNumber),
    ModalitiesInStudy: strs(e.ModalitiesInStudy),
    NumberOfStudyRelatedInstances: num(e.NumberOfStudyRelatedInstances),
  });
}

export interface DicomWebSource {
  url: string;
  authorization?: string;
  /** Over https, the server's certificate must be signed by this CA (PEM). */
  caFile?: string;
}

/** The QIDO-RS query URL for the current study's patient. */
export function qidoStudiesUrl(source: DicomWebSource, current: CurrentStudy, lookbackDays: number, limit?: number): string {
  const u = new URL(`${source.url.replace(/\/+$/, '')}/studies`);
  u.searchParams.set('PatientID', current.PatientID);
  if (current.IssuerOfPatientID) u.searchParams.set('IssuerOfPatientID', current.IssuerOfPatientID);
  u.searchParams.set('ModalitiesInStudy', 'MR');
  const range = studyDateRange(current.StudyDate, lookbackDays);
  if (range) u.searchParams.set('StudyDate', range);
  for (const f of ['00100021', '00100030', '00100040', '00080020', '00080030', '00080050', '00080061', '00201208', '0020000D', '00100020']) u.searchParams.append('includefield', f);
  if (limit) u.searchParams.set('limit', String(limit));
  return u.toString();
}

/** QIDO-RS over HTTP(S): no redirects followed, a timeout per request. */
export async function findPriorStudiesQido(source: DicomWebSource, current: CurrentStudy, opts: FindOptions): Promise<FindOutcome> {
  let url: string;
  try {
    url = qidoStudiesUrl(source, current, opts.lookbackDays, opts.maxMatches);
  } catch (e) {
    return priorFailure('not-configured', `the DICOMweb priors source URL is not usable: ${errorMessage(e)}`);
  }
  const got = await dicomwebGet(source, url, 'application/dicom+json', opts);
  if (!got.ok) return got.outcome;
  const res = got.res;
  if (res.status === 204) return { ok: true, matches: [] };
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    return priorFailure('query-failed', `the DICOMweb server answered the QIDO-RS query with a redirect (HTTP ${res.status}), which is not followed`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    const retry = res.status >= 500 || res.status === 408 || res.status === 429;
    return priorFailure(retry ? 'pacs-unreachable' : 'query-failed', `the DICOMweb server answered the QIDO-RS query with HTTP ${res.status}`, retry);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (e) {
    return priorFailure('query-failed', `the QIDO-RS answer is not DICOM JSON (${errorMessage(e)})`);
  }
  if (!Array.isArray(body)) return priorFailure('query-failed', 'the QIDO-RS answer is not a JSON array of studies');
  const matches = body.map((item) => studyMatchFromDicomJson(item)).filter((m): m is StudyMatch => m !== undefined);
  return { ok: true, matches: opts.maxMatches ? matches.slice(0, opts.maxMatches) : matches };
}

type DicomJson = Record<string, { vr?: string; Value?: unknown[] } | undefined>;

/** A match from one DICOM JSON object (PS3.18 F.2). */
export function studyMatchFromDicomJson(item: unknown): StudyMatch | undefined {
  if (!item || typeof item !== 'object') return undefined;
  const j = item as DicomJson;
  const first = (tag: string) => j[tag]?.Value?.[0];
  const uid = str(first('0020000D'));
  if (!uid) return undefined;
  return compact({
    StudyInstanceUID: uid,
    PatientID: str(first('00100020')),
    IssuerOfPatientID: str(first('00100021')),
    PatientBirthDate: str(first('00100030')),
    PatientSex: str(first('00100040')),
    StudyDate: str(first('00080020')),
    StudyTime: str(first('00080030')),
    AccessionNumber: str(first('00080050')),
    ModalitiesInStudy: strs(j['00080061']?.Value),
    NumberOfStudyRelatedInstances: num(first('00201208')),
  });
}

function str(v: unknown): string | undefined {
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t ? t : undefined;
}

function strs(v: unknown): string[] | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const arr = (Array.isArray(v) ? v : String(v).split('\\')).map((x) => str(x)).filter((x): x is string => !!x);
  return arr.length ? arr : undefined;
}

function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
