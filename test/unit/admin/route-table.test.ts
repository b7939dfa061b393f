import assert from 'node:assert/strict';
import { ACCESS_ROLES, ROUTES, routeMatcher } from '../../../src/admin/route-table';

describe('route table', () => {
  const match = routeMatcher();

  it('finds the entry of a request, with decoded path parameters, HEAD as GET and a trailing slash', () => {
    assert.equal(match('POST', '/api/v1/studies/1.2.3/complete')?.route.access, 'operate');
    assert.deepEqual(match('GET', '/api/v1/patients/P%2F1/clinical')?.params, { patientId: 'P/1' });
    assert.equal(match('HEAD', '/api/v1/jobs')?.route.path, '/api/v1/jobs');
    assert.equal(match('GET', '/api/v1/jobs/')?.route.path, '/api/v1/jobs');
    assert.equal(match('PUT', '/api/v1/jobs/1'), undefined);
    assert.equal(match('GET', '/api/v1/jobs/1/extra'), undefined);
  });

  it('gives operators no configuration change, ingest only STOW-RS and metrics only /metrics', () => {
    const allowed = (role: 'operator' | 'ingest' | 'metrics') => ROUTES.filter((r) => r.access !== 'public' && ACCESS_ROLES[r.access].includes(role));
    assert.ok(allowed('operator').every((r) => r.method === 'get' || ['operate'].includes(r.access)));
    assert.deepEqual(allowed('operator').filter((r) => r.method !== 'get').map((r) => r.path).sort(), [
      '/api/v1/destinations/{name}/echo',
      '/api/v1/jobs/{id}/retry',
      '/api/v1/studies/{studyInstanceUid}/complete',
    ]);
    assert.deepEqual(allowed('ingest').map((r) => `${r.method} ${r.path}`), ['post /dicomweb/studies', 'post /dicomweb/studies/{study}']);
    assert.deepEqual(allowed('metrics').map((r) => `${r.method} ${r.path}`), ['get /metrics']);
    assert.ok(ROUTES.filter((r) => r.method !== 'get' && r.access !== 'operate' && r.access !== 'ingest').every((r) => r.access === 'configure'), 'every other change needs admin');
  });
});
