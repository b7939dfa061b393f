/**
 * Every HTTP route of the node, in one table: method, path, the access it needs, its request schemas
 * and a summary. The table is what authorises each request (src/admin/authorise.ts: one place maps a
 * route to the roles allowed on it) and what GET /api/v1/openapi.json is generated from
 * (src/admin/openapi.ts), with the same zod schemas the handlers validate with. A route missing from the
 * table needs the admin role (fail safe); test/integration/admin checks that every registered route is here.
 */
import { z } from 'zod';
import { ClinicalCovariatesSchema } from '../analyses/clinical-covariates';
import { DestinationSchema, LocalAeTitleSchema, SourceSchema } from '../config/schema';
import type { Role } from '../core/roles';
import { JobListQuerySchema } from './routes/job-routes';
import { FORCE_COMPLETE_RESPONSE_SCHEMA, ForceCompleteQuerySchema, StudyDetailQuerySchema, StudyListQuerySchema } from './routes/study-routes';
import { TokenCreateSchema } from './routes/token-routes';
import { AuditQuerySchema } from './routes/audit-routes';
import { StudyResultsQuerySchema } from './routes/study-results-routes';
import { WebSettingsSchema } from '../store/web-settings';

/**
 * What a route does, which decides who may call it:
 * public (no token), read (look), operate (retry, echo, force-complete), configure (change settings, tokens
 * or clinical data), ingest (STOW-RS), metrics (GET /metrics).
 */
export type Access = 'public' | 'read' | 'operate' | 'configure' | 'ingest' | 'metrics';

export const ACCESS_ROLES: Record<Exclude<Access, 'public'>, readonly Role[]> = {
  read: ['admin', 'operator'],
  operate: ['admin', 'operator'],
  configure: ['admin'],
  ingest: ['admin', 'ingest'],
  metrics: ['admin', 'operator', 'metrics'],
};

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface RouteSpec {
  method: Method;
  /** OpenAPI form: /api/v1/jobs/{id}. */
  path: string;
  access: Access;
  summary: string;
  tag: string;
  /** JSON request body; `bodyRequired` false for bodies that may be partial (PUT merges the path key). */
  body?: z.ZodType;
  /** Multipart or other non-JSON body: its media type, for the document. */
  rawBody?: string;
  query?: z.ZodObject;
  /** Success status and what it returns (documented, not validated); `schema`: the JSON body's JSON Schema. */
  success?: { status: number; description: string; schema?: Record<string, unknown> };
  /** Further statuses this route answers with a message (documented). */
  errors?: number[];
}

const aeTitlePut = LocalAeTitleSchema.partial({ aeTitle: true });
const sourcePut = SourceSchema.partial({ aeTitle: true });
const stowQuery = z.object({ aeTitle: z.string().min(1).max(16).optional() });

export const ROUTES: readonly RouteSpec[] = [
  { method: 'get', path: '/healthz', access: 'public', tag: 'health', summary: 'Liveness: the process answers' },
  { method: 'get', path: '/readyz', access: 'public', tag: 'health', summary: 'Readiness: the store is writable; says whether analyses can run' },
  { method: 'get', path: '/', access: 'public', tag: 'web', summary: 'The admin web page (asks for a token)' },
  { method: 'get', path: '/index.html', access: 'public', tag: 'web', summary: 'The admin web page' },
  { method: 'get', path: '/metrics', access: 'metrics', tag: 'metrics', summary: 'Prometheus metrics (text format)' },
  { method: 'get', path: '/api/v1/openapi.json', access: 'read', tag: 'meta', summary: 'This document' },

  { method: 'get', path: '/api/v1/ae-titles', access: 'read', tag: 'settings', summary: 'List local AE titles' },
  { method: 'post', path: '/api/v1/ae-titles', access: 'configure', tag: 'settings', summary: 'Add a local AE title', body: LocalAeTitleSchema, success: { status: 201, description: 'created' }, errors: [400, 409] },
  { method: 'get', path: '/api/v1/ae-titles/{aeTitle}', access: 'read', tag: 'settings', summary: 'One local AE title', errors: [404] },
  { method: 'put', path: '/api/v1/ae-titles/{aeTitle}', access: 'configure', tag: 'settings', summary: 'Create or replace a local AE title', body: aeTitlePut, errors: [400] },
  { method: 'delete', path: '/api/v1/ae-titles/{aeTitle}', access: 'configure', tag: 'settings', summary: 'Remove a local AE title (not the last)', success: { status: 204, description: 'deleted' }, errors: [404, 409] },

  { method: 'get', path: '/api/v1/sources', access: 'read', tag: 'settings', summary: 'List sources (calling AE titles allowed to send)' },
  { method: 'post', path: '/api/v1/sources', access: 'configure', tag: 'settings', summary: 'Add a source', body: SourceSchema, success: { status: 201, description: 'created' }, errors: [400, 409] },
  { method: 'get', path: '/api/v1/sources/{aeTitle}', access: 'read', tag: 'settings', summary: 'One source', errors: [404] },
  { method: 'put', path: '/api/v1/sources/{aeTitle}', access: 'configure', tag: 'settings', summary: 'Create or replace a source', body: sourcePut, errors: [400] },
  { method: 'delete', path: '/api/v1/sources/{aeTitle}', access: 'configure', tag: 'settings', summary: 'Remove a source', success: { status: 204, description: 'deleted' }, errors: [404] },

  { method: 'get', path: '/api/v1/destinations', access: 'read', tag: 'destinations', summary: 'List destinations (secrets never shown)' },
  { method: 'post', path: '/api/v1/destinations', access: 'configure', tag: 'destinations', summary: 'Add a destination (DIMSE or DICOMweb)', body: DestinationSchema, success: { status: 201, description: 'created' }, errors: [400, 409] },
  { method: 'get', path: '/api/v1/destinations/{name}', access: 'read', tag: 'destinations', summary: 'One destination', errors: [404] },
  { method: 'put', path: '/api/v1/destinations/{name}', access: 'configure', tag: 'destinations', summary: 'Create or replace a destination (a DICOMweb secret left out is kept)', body: DestinationSchema, errors: [400] },
  { method: 'delete', path: '/api/v1/destinations/{name}', access: 'configure', tag: 'destinations', summary: 'Remove a destination not used by an AE title', success: { status: 204, description: 'deleted' }, errors: [404, 409] },
  { method: 'post', path: '/api/v1/destinations/{name}/echo', access: 'operate', tag: 'destinations', summary: 'Verify a destination (C-ECHO or an HTTP check)', errors: [404] },

  { method: 'get', path: '/api/v1/studies', access: 'read', tag: 'studies', summary: 'List received studies, newest first (X-Total-Count)', query: StudyListQuerySchema, errors: [400] },
  { method: 'get', path: '/api/v1/studies/{studyInstanceUid}', access: 'read', tag: 'studies', summary: 'One study: series, roles, completion deadlines, jobs', query: StudyDetailQuerySchema, errors: [400, 404] },
  { method: 'post', path: '/api/v1/studies/{studyInstanceUid}/complete', access: 'operate', tag: 'studies', summary: 'Force-complete a receiving study now (its analysis job is created)', query: ForceCompleteQuerySchema, success: { status: 200, description: 'force-completed: the study, a message and its analysis job (`job`; `analysisJob` is a deprecated alias)', schema: FORCE_COMPLETE_RESPONSE_SCHEMA }, errors: [400, 404, 409] },

  { method: 'get', path: '/api/v1/studies/{studyInstanceUid}/results', access: 'read', tag: 'studies', summary: "The current analysis's answers, heat-map links, key-slice overlay and delivery state per destination", query: StudyResultsQuerySchema, errors: [400, 404] },
  { method: 'get', path: '/api/v1/studies/{studyInstanceUid}/results/{file}', access: 'read', tag: 'studies', summary: 'A stored heat map (Secondary Capture) as PNG: {SOPInstanceUID}.png', query: StudyResultsQuerySchema, success: { status: 200, description: 'image/png' }, errors: [400, 404, 415] },
  { method: 'get', path: '/api/v1/settings/web', access: 'read', tag: 'settings', summary: "The web page's settings (showPatientNames)" },
  { method: 'put', path: '/api/v1/settings/web', access: 'configure', tag: 'settings', summary: "Change the web page's settings (a part or the whole value)", body: WebSettingsSchema.partial(), errors: [400] },

  { method: 'get', path: '/api/v1/jobs', access: 'read', tag: 'jobs', summary: 'List jobs, newest first (X-Total-Count)', query: JobListQuerySchema, errors: [400] },
  { method: 'get', path: '/api/v1/jobs/{id}', access: 'read', tag: 'jobs', summary: 'One job with history and result', errors: [400, 404] },
  { method: 'post', path: '/api/v1/jobs/{id}/retry', access: 'operate', tag: 'jobs', summary: 'Retry a failed or dead job', errors: [400, 404, 409] },

  { method: 'get', path: '/api/v1/models', access: 'read', tag: 'models', summary: 'Loaded models (id, version, checksum, provider)' },
  { method: 'get', path: '/api/v1/models/{id}', access: 'read', tag: 'models', summary: 'One model with its manifest', errors: [404] },

  { method: 'get', path: '/api/v1/patients/{patientId}/clinical', access: 'read', tag: 'clinical', summary: "A patient's clinical covariates", errors: [400, 404] },
  { method: 'put', path: '/api/v1/patients/{patientId}/clinical', access: 'configure', tag: 'clinical', summary: "Store a patient's clinical covariates (?reanalyse=true re-analyses)", body: ClinicalCovariatesSchema, errors: [400, 501] },
  { method: 'delete', path: '/api/v1/patients/{patientId}/clinical', access: 'configure', tag: 'clinical', summary: "Delete a patient's clinical covariates", success: { status: 204, description: 'deleted' }, errors: [400, 404] },

  { method: 'get', path: '/api/v1/tokens', access: 'read', tag: 'tokens', summary: 'List API tokens: name, role, source, created, last used (never the token)' },
  { method: 'post', path: '/api/v1/tokens', access: 'configure', tag: 'tokens', summary: 'Issue a token; the answer holds it once', body: TokenCreateSchema, success: { status: 201, description: 'created; `token` is shown only here' }, errors: [400, 409] },
  { method: 'delete', path: '/api/v1/tokens/{name}', access: 'configure', tag: 'tokens', summary: 'Revoke a token', success: { status: 204, description: 'deleted' }, errors: [404] },

  { method: 'get', path: '/api/v1/quarantine', access: 'read', tag: 'quarantine', summary: 'Instances held apart because their patient identity differs from their study' },
  { method: 'post', path: '/api/v1/quarantine/{sop}/release', access: 'configure', tag: 'quarantine', summary: 'Release a quarantined instance into its study (it is then analysed with it)', errors: [400, 404, 409] },
  { method: 'delete', path: '/api/v1/quarantine/{sop}', access: 'configure', tag: 'quarantine', summary: 'Delete a quarantined instance', success: { status: 204, description: 'deleted' }, errors: [400, 404] },

  { method: 'post', path: '/api/v1/maintenance/retention', access: 'configure', tag: 'maintenance', summary: 'Run retention and the free-space check now; answers what was purged, kept (and why) and freed' },

  { method: 'get', path: '/api/v1/audit', access: 'read', tag: 'audit', summary: 'Audit trail entries, newest first', query: AuditQuerySchema, errors: [400] },

  { method: 'post', path: '/dicomweb/studies', access: 'ingest', tag: 'dicomweb', summary: 'STOW-RS: store instances (multipart/related; type="application/dicom")', rawBody: 'multipart/related', query: stowQuery, errors: [400, 408, 409, 413, 415, 503] },
  { method: 'post', path: '/dicomweb/studies/{study}', access: 'ingest', tag: 'dicomweb', summary: 'STOW-RS into one study', rawBody: 'multipart/related', query: stowQuery, errors: [400, 408, 409, 413, 415, 503] },
];

export interface RouteMatch {
  route: RouteSpec;
  params: Record<string, string>;
}

interface Compiled {
  route: RouteSpec;
  re: RegExp;
  names: string[];
}

/** Finds the table entry of a request (HEAD is looked up as GET). */
export function routeMatcher(routes: readonly RouteSpec[] = ROUTES): (method: string, path: string) => RouteMatch | undefined {
  const compiled: Compiled[] = routes.map((route) => {
    const names: string[] = [];
    const re = new RegExp(
      '^' +
        route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([A-Za-z]+)\}/g, (_m, n: string) => {
          names.push(n);
          return '([^/]+)';
        }) +
        '/?$',
    );
    return { route, re, names };
  });
  return (method, path) => {
    const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
    for (const c of compiled) {
      if (c.route.method !== m) continue;
      const r = c.re.exec(path);
      if (!r) continue;
      const params: Record<string, string> = {};
      c.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(r[i + 1]!);
        } catch {
          params[n] = r[i + 1]!;
        }
      });
      return { route: c.route, params };
    }
    return undefined;
  };
}
