import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../helpers/test-node';
import { tempDir } from '../helpers/temp-dir';

describe('admin API: AE titles and sources', () => {
  let node: TestNode;
  afterEach(async () => node?.cleanup());

  it('answers /healthz without a token and everything else only with one', async () => {
    node = await startTestNode();
    const h = await fetch(`http://127.0.0.1:${node.httpPort}/healthz`);
    assert.equal(h.status, 200);
    const noAuth = await fetch(`http://127.0.0.1:${node.httpPort}/api/v1/ae-titles`);
    assert.equal(noAuth.status, 401);
    const wrong = await node.api('/api/v1/ae-titles', { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const ok = await node.api('/api/v1/ae-titles');
    assert.equal(ok.status, 200);
    assert.deepEqual(((await ok.json()) as { aeTitle: string }[]).map((a) => a.aeTitle), ['NPCAI']);
  });

  it('creates, reads, changes and deletes sources and AE titles, with 4xx messages on bad input', async () => {
    node = await startTestNode();
    let r = await node.api('/api/v1/sources', { method: 'POST', body: JSON.stringify({ aeTitle: 'PACS1', host: '127.0.0.1', port: 104 }) });
    assert.equal(r.status, 201);
    r = await node.api('/api/v1/sources', { method: 'POST', body: JSON.stringify({ aeTitle: 'PACS1' }) });
    assert.equal(r.status, 409);
    r = await node.api('/api/v1/sources', { method: 'POST', body: JSON.stringify({ aeTitle: 'A_MUCH_TOO_LONG_AE_TITLE', port: 70000 }) });
    assert.equal(r.status, 400);
    const body = (await r.json()) as { error: string; details: { path: string }[] };
    assert.ok(body.details.some((d) => d.path === 'aeTitle'));
    assert.ok(body.details.some((d) => d.path === 'port'));
    r = await node.api('/api/v1/sources', { method: 'POST', body: '{not json' });
    assert.equal(r.status, 400);
    r = await node.api('/api/v1/sources/PACS1', { method: 'PUT', body: JSON.stringify({ host: '127.0.0.2' }) });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { host: string }).host, '127.0.0.2');
    r = await node.api('/api/v1/ae-titles', { method: 'POST', body: JSON.stringify({ aeTitle: 'NPCAI2', destinations: ['nope'] }) });
    assert.equal(r.status, 400);
    r = await node.api('/api/v1/ae-titles', { method: 'POST', body: JSON.stringify({ aeTitle: 'NPCAI2', completion: { quietSeconds: 5 } }) });
    assert.equal(r.status, 201);
    const created = (await r.json()) as { completion: { quietSeconds: number; forceCompleteSeconds: number } };
    assert.equal(created.completion.quietSeconds, 5);
    assert.equal(created.completion.forceCompleteSeconds, 600);
    r = await node.api('/api/v1/ae-titles/NPCAI2', { method: 'DELETE' });
    assert.equal(r.status, 204);
    r = await node.api('/api/v1/ae-titles/NPCAI2');
    assert.equal(r.status, 404);
  });

  it('keeps changes made through the API across a restart', async () => {
    const t = tempDir();
    try {
      node = await startTestNode({}, { dataDir: t.dir });
      await node.api('/api/v1/sources', { method: 'POST', body: JSON.stringify({ aeTitle: 'MODALITY', host: '127.0.0.1' }) });
      await node.stop();
      node = await startTestNode({}, { dataDir: t.dir });
      const r = await node.api('/api/v1/sources/MODALITY');
      assert.equal(r.status, 200);
    } finally {
      await node.stop();
      t.cleanup();
    }
  });
});

describe('admin web page', () => {
  it('serves the page without a token; the page itself holds no data', async () => {
    const node = await startTestNode();
    try {
      const r = await fetch(`http://127.0.0.1:${node.httpPort}/`);
      assert.equal(r.status, 200);
      const html = await r.text();
      assert.match(html, /NPC AI node/);
      assert.match(html, /RESEARCH USE ONLY/);
    } finally {
      await node.cleanup();
    }
  });
});

describe('metrics', () => {
  it('serves Prometheus text with the node\'s own series, behind the token', async () => {
    const node = await startTestNode();
    try {
      assert.equal((await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).status, 401);
      const r = await node.api('/metrics');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
      const text = await r.text();
      for (const name of ['npcai_instances_indexed 0', 'npcai_dimse_open_associations 0', 'npcai_process_resident_memory_bytes', '# TYPE npcai_jobs gauge']) assert.ok(text.includes(name), name);
    } finally {
      await node.cleanup();
    }
  });
});
