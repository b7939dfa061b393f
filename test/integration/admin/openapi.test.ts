/**
 * GET /api/v1/openapi.json: an OpenAPI 3.1 document that lists every route the app registers, and whose
 * request schemas (generated from the zod schemas the handlers validate with) accept and reject sample
 * bodies exactly as zod and the real endpoints do.
 */
import assert from 'node:assert/strict';
import Ajv2020 from 'ajv/dist/2020';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { ROUTES } from '../../../src/admin/route-table';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SAMPLES: Record<string, [unknown, boolean][]> = {
  'post /api/v1/sources': [
    [{ aeTitle: 'PACS1', host: '10.0.0.5', port: 104 }, true],
    [{ aeTitle: 'PACS2' }, true],
    [{ aeTitle: 'A_MUCH_TOO_LONG_AE_TITLE' }, false],
    [{ aeTitle: 'PACS3', port: 70000 }, false],
    [{ aeTitle: '    ' }, false],
    [{ aeTitle: 'BACK\\SLASH' }, false],
    [{ aeTitle: 'PACS4', extra: 1 }, false],
    [{}, false],
    [[], false],
  ],
  'post /api/v1/destinations': [
    [{ name: 'pacs1', type: 'dimse', aeTitle: 'PACS1', host: '10.0.0.5', port: 104 }, true],
    [{ name: 'web1', type: 'dicomweb', url: 'http://pacs/dicom-web' }, true],
    [{ name: 'web2', type: 'dicomweb', url: 'not a url' }, false],
    [{ name: 'pacs2', type: 'dimse', aeTitle: 'PACS2', host: '10.0.0.5' }, false],
    [{ name: 'bad name', type: 'dimse', aeTitle: 'P', host: 'h', port: 104 }, false],
    [{ name: 'mail', type: 'smtp' }, false],
    [{ name: 'pacs3', type: 'dimse', aeTitle: 'P', host: 'h', port: 104, srSopClass: 'basic' }, false],
  ],
  'post /api/v1/ae-titles': [
    [{ aeTitle: 'NPCAI2' }, true],
    [{ aeTitle: 'NPCAI3', analyses: ['stage'], completion: { quietSeconds: 5 } }, true],
    [{ aeTitle: 'NPCAI4', analyses: ['astrology'] }, false],
    [{ aeTitle: 'NPCAI5', completion: { quietSeconds: -1 } }, false],
    [{ aeTitle: 'NPCAI6', completion: { quietSeconds: 1.5 } }, false],
  ],
  'post /api/v1/tokens': [
    [{ name: 'op', role: 'operator' }, true],
    [{ name: 'feed', role: 'ingest', source: 'PACS1' }, true],
    [{ name: 'feed2', role: 'ingest' }, false],
    [{ name: 'op2', role: 'operator', source: 'PACS1' }, false],
    [{ name: 'admin', role: 'operator' }, false],
    [{ name: 'root', role: 'root' }, false],
    [{ name: '', role: 'metrics' }, false],
  ],
  'put /api/v1/patients/{patientId}/clinical': [
    [{ nStage: 'N1', ebvDnaCopiesPerMl: 4000 }, true],
    [{}, true],
    [{ nStage: 'N5' }, false],
    [{ age: 130 }, false],
    [{ favouriteColour: 'blue' }, false],
  ],
};

describe('OpenAPI document', function () {
  this.timeout(60_000);
  let node: TestNode;
  let doc: Json;
  before(async () => {
    node = await startTestNode();
    const r = await node.api('/api/v1/openapi.json');
    assert.equal(r.status, 200);
    doc = (await r.json()) as Json;
  });
  after(async () => node?.cleanup());

  it('is OpenAPI 3.1 and lists every route with its roles, parameters and error answers', async () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
    const listed = Object.entries(doc.paths as Json).flatMap(([p, ops]) => Object.keys(ops as Json).map((m) => `${m} ${p}`));
    assert.deepEqual(listed.sort(), ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const r of ROUTES) {
      const op = doc.paths[r.path][r.method] as Json;
      assert.ok(op.summary, `${r.path} has a summary`);
      if (r.access !== 'public') {
        assert.ok(op.responses['401'] && op.responses['403'], `${r.method} ${r.path} documents 401 and 403`);
        assert.ok((op['x-roles'] as string[]).includes('admin'));
      }
    }
    const jobs = doc.paths['/api/v1/jobs'].get as Json;
    const state = (jobs.parameters as Json[]).find((p) => p.name === 'state')!;
    assert.equal(state.in, 'query');
    assert.ok((state.schema.enum as string[]).includes('dead'));
    assert.deepEqual(doc.paths['/api/v1/studies/{studyInstanceUid}/complete'].post['x-roles'], ['admin', 'operator']);
    assert.deepEqual(doc.paths['/metrics'].get['x-roles'], ['admin', 'operator', 'metrics']);
    assert.deepEqual(doc.paths['/dicomweb/studies'].post['x-roles'], ['admin', 'ingest']);
    // Every operation id is unique.
    const ids = listed.map((k) => { const [m, p] = k.split(' '); return doc.paths[p!][m!].operationId as string; });
    assert.equal(new Set(ids).size, ids.length);
  });

  it('documents the force-complete answer: job (the contract\'s name) required, analysisJob a deprecated alias', () => {
    const schema = doc.paths['/api/v1/studies/{studyInstanceUid}/complete'].post.responses['200'].content['application/json'].schema as Json;
    assert.ok((schema.required as string[]).includes('job'));
    assert.ok(!(schema.required as string[]).includes('analysisJob'), 'the alias is not required');
    assert.equal(schema.properties.job.deprecated, undefined);
    assert.equal(schema.properties.analysisJob.deprecated, true);
    assert.match(schema.properties.analysisJob.description as string, /Deprecated alias of `job`.*removed in the next/);
    const validate = new Ajv2020({ strict: false }).compile(schema);
    assert.equal(validate({ message: 'm', job: { id: 1 }, analysisJob: { id: 1 } }), true);
    assert.equal(validate({ message: 'm', analysisJob: { id: 1 } }), false, 'an answer without job does not match');
  });

  it('has request schemas that accept and reject sample bodies as zod and the real endpoints do', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addFormat('uri', (s: string) => URL.canParse(s));
    for (const [key, samples] of Object.entries(SAMPLES)) {
      const [method, p] = key.split(' ') as [string, string];
      const route = ROUTES.find((r) => r.method === method && r.path === p)!;
      const schema = doc.paths[p][method].requestBody.content['application/json'].schema as Json;
      const validate = ajv.compile(schema);
      for (const [body, valid] of samples) {
        const label = `${key} ${JSON.stringify(body)}`;
        assert.equal(route.body!.safeParse(body).success, valid, `zod: ${label}`);
        assert.equal(validate(body), valid, `document schema: ${label} ${JSON.stringify(validate.errors)}`);
        const url = p.replace('{patientId}', 'PID-OPENAPI');
        const res = await node.api(url, { method: method.toUpperCase(), body: JSON.stringify(body) });
        const text = await res.text();
        if (valid) assert.ok(res.status === 200 || res.status === 201, `endpoint: ${label} -> ${res.status} ${text}`);
        else {
          assert.equal(res.status, 400, `endpoint: ${label} -> ${res.status} ${text}`);
          assert.ok((JSON.parse(text) as { error?: string }).error, 'with a message');
        }
      }
    }
  });
});
