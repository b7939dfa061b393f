/** Admin API for destinations: CRUD with validation, the secret kept out of answers, 409 on use, echo. */
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { freePort, startOrthanc, type Orthanc } from '../../helpers/orthanc';

describe('admin API: destinations', function () {
  this.timeout(60_000);
  let node: TestNode;
  let orthanc: Orthanc;
  before(async () => {
    orthanc = await startOrthanc({ aeTitle: 'PACSA' });
  });
  after(async () => {
    await orthanc?.cleanup();
  });
  beforeEach(async () => {
    node = await startTestNode({});
  });
  afterEach(async () => {
    await node.cleanup();
  });
  const json = (body: unknown, method = 'POST') => ({ method, body: JSON.stringify(body) });

  it('creates, lists, reads, changes and deletes destinations', async () => {
    const pacs = { name: 'pacs1', type: 'dimse', aeTitle: 'PACSA', host: '127.0.0.1', port: orthanc.dicomPort };
    let res = await node.api('/api/v1/destinations', json(pacs));
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { ...pacs, srSopClass: 'comprehensive3d', scSopClass: 'sc', enabled: true });
    assert.equal((await node.api('/api/v1/destinations', json(pacs))).status, 409);

    res = await node.api('/api/v1/destinations/pacs1', json({ ...pacs, port: 104, enabled: false }, 'PUT'));
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { port: number }).port, 104);
    assert.equal(node.settings.destinations.get('pacs1')?.enabled, false);

    res = await node.api('/api/v1/destinations');
    assert.deepEqual(((await res.json()) as { name: string }[]).map((d) => d.name), ['pacs1']);
    assert.equal((await node.api('/api/v1/destinations/pacs1', { method: 'DELETE' })).status, 204);
    assert.equal((await node.api('/api/v1/destinations/pacs1')).status, 404);
    assert.equal((await node.api('/api/v1/destinations/pacs1', { method: 'DELETE' })).status, 404);
  });

  it('answers 400 with the offending field for invalid destinations', async () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 'x', type: 'dimse', aeTitle: 'PACSA', host: '127.0.0.1' }, /port/],
      [{ name: 'x', type: 'dimse', aeTitle: 'MUCH_TOO_LONG_AE_TITLE', host: 'h', port: 104 }, /aeTitle/],
      [{ name: 'bad name!', type: 'dicomweb', url: 'http://h/dicom-web' }, /name/],
      [{ name: 'x', type: 'dicomweb', url: 'not a url' }, /url/],
      [{ name: 'x', type: 'ftp' }, /type/],
      [{ name: 'x', type: 'dimse', aeTitle: 'A', host: 'h', port: 104, extra: 1 }, /extra|unrecognized/i],
    ];
    for (const [body, field] of cases) {
      const res = await node.api('/api/v1/destinations', json(body));
      assert.equal(res.status, 400, JSON.stringify(body));
      const err = (await res.json()) as { error: string; details?: { path: string; message: string }[] };
      assert.match(JSON.stringify(err.details ?? err.error), field);
    }
    const res = await node.api('/api/v1/destinations/other', json({ name: 'x', type: 'dicomweb', url: 'http://h/dw' }, 'PUT'));
    assert.equal(res.status, 400);
  });

  it('never returns the authorization secret, and keeps it on a PUT that omits it', async () => {
    const dest = { name: 'web1', type: 'dicomweb', url: orthanc.dicomWebUrl, authorization: 'Bearer s3cret-value' };
    const created = await node.api('/api/v1/destinations', json(dest));
    const body = await created.text();
    assert.equal(body.includes('s3cret'), false);
    assert.equal((JSON.parse(body) as { hasAuthorization: boolean }).hasAuthorization, true);
    await node.api('/api/v1/destinations/web1', json({ type: 'dicomweb', url: orthanc.dicomWebUrl, enabled: true }, 'PUT'));
    const stored = node.settings.destinations.get('web1');
    assert.equal(stored?.type === 'dicomweb' && stored.authorization, 'Bearer s3cret-value');
    assert.equal((await (await node.api('/api/v1/destinations')).text()).includes('s3cret'), false);
  });

  it('refuses to delete a destination a local AE title routes to (409)', async () => {
    await node.api('/api/v1/destinations', json({ name: 'pacs1', type: 'dimse', aeTitle: 'PACSA', host: '127.0.0.1', port: 104 }));
    assert.equal((await node.api('/api/v1/ae-titles/NPCAI', json({ aeTitle: 'NPCAI', destinations: ['pacs1'] }, 'PUT'))).status, 200);
    const res = await node.api('/api/v1/destinations/pacs1', { method: 'DELETE' });
    assert.equal(res.status, 409);
    assert.match(((await res.json()) as { error: string }).error, /NPCAI/);
    assert.ok(node.settings.destinations.get('pacs1'));
  });

  it('verifies destinations: C-ECHO and QIDO-RS to Orthanc succeed, a closed port fails with a reason', async () => {
    await node.api('/api/v1/destinations', json({ name: 'pacs1', type: 'dimse', aeTitle: 'PACSA', host: '127.0.0.1', port: orthanc.dicomPort }));
    await node.api('/api/v1/destinations', json({ name: 'web1', type: 'dicomweb', url: orthanc.dicomWebUrl }));
    await node.api('/api/v1/destinations', json({ name: 'down', type: 'dimse', aeTitle: 'NOBODY', host: '127.0.0.1', port: await freePort() }));
    const echo = async (name: string) => (await (await node.api(`/api/v1/destinations/${name}/echo`, { method: 'POST' })).json()) as { ok: boolean; status?: number; message: string; ms: number };
    const dimse = await echo('pacs1');
    assert.deepEqual([dimse.ok, dimse.status], [true, 0]);
    assert.equal(typeof dimse.ms, 'number');
    const web = await echo('web1');
    assert.deepEqual([web.ok, web.status], [true, 200]);
    const down = await echo('down');
    assert.equal(down.ok, false);
    assert.match(down.message, /ECONNREFUSED/);
    assert.equal((await node.api('/api/v1/destinations/none/echo', { method: 'POST' })).status, 404);
  });

  it('keeps destinations created through the API across a restart', async () => {
    await node.api('/api/v1/destinations', json({ name: 'web1', type: 'dicomweb', url: orthanc.dicomWebUrl }));
    await node.stop();
    const again = await startTestNode({}, { dataDir: node.dataDir });
    try {
      assert.equal(((await (await again.api('/api/v1/destinations/web1')).json()) as { url: string }).url, orthanc.dicomWebUrl);
    } finally {
      await again.stop();
    }
  });
});
