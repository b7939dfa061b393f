/**
 * The OpenAPI 3.1 document of the node's HTTP API, generated from the route table (route-table.ts): its
 * request bodies and query parameters are the zod schemas the handlers validate with, converted by zod's
 * own z.toJSONSchema (JSON Schema 2020-12, which OpenAPI 3.1 uses). Served at GET /api/v1/openapi.json.
 */
import { Router } from 'express';
import { z } from 'zod';
import { ACCESS_ROLES, ROUTES, type RouteSpec } from './route-table';

type Json = Record<string, unknown>;

const ERROR_SCHEMA: Json = {
  type: 'object',
  properties: {
    error: { type: 'string', description: 'what was wrong, for a person' },
    details: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
    correlationId: { type: 'string', description: '500 only: the id of the operational log line' },
  },
  required: ['error'],
};

const STATUS_TEXT: Record<number, string> = {
  400: 'invalid request (the message and details name each problem)',
  401: 'no token, or a wrong or revoked one',
  403: 'the token role may not do this',
  404: 'not found',
  408: 'request body not received in time',
  409: 'conflict with the current state',
  413: 'body or part too large',
  415: 'unsupported media type',
  501: 'not available in this node',
  503: 'not enough free space',
};

export function jsonSchemaOf(schema: z.ZodType): Json {
  const s = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  delete s.$schema;
  return s;
}

function operationOf(r: RouteSpec): Json {
  const params: Json[] = [...r.path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  if (r.query) {
    const q = jsonSchemaOf(r.query);
    const required = new Set((q.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((q.properties as Record<string, Json> | undefined) ?? {})) {
      // A query parameter with a default is never required of the caller.
      params.push({ name, in: 'query', required: required.has(name) && !('default' in schema), schema });
    }
  }
  const success = r.success ?? { status: 200, description: 'OK' };
  const responses: Json = { [String(success.status)]: { description: success.description, ...(success.schema ? { content: { 'application/json': { schema: success.schema } } } : {}) } };
  const errors = new Set<number>([...(r.access === 'public' ? [] : [401, 403]), ...(r.errors ?? [])]);
  for (const status of [...errors].sort()) {
    responses[String(status)] = { description: STATUS_TEXT[status] ?? 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  }
  const roles = r.access === 'public' ? [] : ACCESS_ROLES[r.access];
  const op: Json = {
    summary: r.summary,
    tags: [r.tag],
    operationId: `${r.method}${r.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    description: r.access === 'public' ? 'No token needed.' : `Roles: ${roles.join(', ')}.`,
    'x-access': r.access,
    'x-roles': roles,
    security: r.access === 'public' ? [] : [{ bearerAuth: [] }],
    ...(params.length ? { parameters: params } : {}),
    responses,
  };
  if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchemaOf(r.body) } } };
  else if (r.rawBody) op.requestBody = { required: true, content: { [r.rawBody]: { schema: { type: 'string', format: 'binary' } } } };
  return op;
}

export function openApiDocument(opts: { version: string; routes?: readonly RouteSpec[] }): Json {
  const paths: Record<string, Json> = {};
  for (const r of opts.routes ?? ROUTES) (paths[r.path] ??= {})[r.method] = operationOf(r);
  return {
    openapi: '3.1.0',
    info: {
      title: 'NPC AI node API',
      version: opts.version,
      description: 'Admin API, DICOMweb STOW-RS ingress, health and metrics. Bearer tokens carry a role: admin, operator, ingest or metrics (docs/operator-contract.md).',
    },
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: ERROR_SCHEMA },
    },
    paths,
  };
}

export function openApiRoutes(version: string): Router {
  const r = Router();
  let doc: Json | undefined;
  r.get('/api/v1/openapi.json', (_req, res) => {
    res.json((doc ??= openApiDocument({ version })));
  });
  return r;
}
