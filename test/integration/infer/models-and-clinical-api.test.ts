import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { ModelRegistryError } from '../../../src/infer/model-registry';
import { tempDir } from '../../helpers/temp-dir';
import { FIXTURE_MODELS_DIR, copyFixtureModels } from '../../unit/infer/model-fixtures';

describe('admin API: models and clinical covariates', () => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode({ models: { dir: FIXTURE_MODELS_DIR, executionProviders: ['webgpu', 'cpu'] } });
  });
  after(async () => node.cleanup());

  it('lists the loaded models with id, version, checksum and the provider in use', async () => {
    const res = await node.api('/api/v1/models');
    assert.equal(res.status, 200);
    const list = (await res.json()) as { id: string; version: string; sha256: string; provider: string; providersTried: { provider: string }[] }[];
    assert.equal(list.length, 10);
    const stage = list.find((m) => m.id === 'tiny-stage-a')!;
    assert.equal(stage.version, '0.0.1-test');
    assert.match(stage.sha256, /^[0-9a-f]{64}$/);
    assert.equal(stage.provider, 'cpu');
    assert.deepEqual(stage.providersTried.map((p) => p.provider), ['webgpu', 'cpu']);
    const one = await node.api('/api/v1/models/tiny-dmfs');
    assert.equal(((await one.json()) as { manifest: { task: string } }).manifest.task, 'dmfs');
    assert.equal((await node.api('/api/v1/models/nope')).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${node.httpPort}/api/v1/models`)).status, 401);
    const ready = (await (await fetch(`http://127.0.0.1:${node.httpPort}/readyz`)).json()) as { models: number };
    assert.equal(ready.models, 10);
  });

  it('stores, returns and replaces clinical covariates, with 400s naming bad fields', async () => {
    const p = '/api/v1/patients/PAT%2F001/clinical';
    assert.equal((await node.api(p)).status, 404);
    const put = await node.api(p, { method: 'PUT', body: JSON.stringify({ nStage: 'N2', ebvDnaCopiesPerMl: 5200, treatment: 'IC+CCRT', age: 51 }) });
    assert.equal(put.status, 201);
    const got = (await (await node.api(p)).json()) as { patientId: string; clinical: Record<string, unknown> };
    assert.equal(got.patientId, 'PAT/001');
    assert.deepEqual(got.clinical, { nStage: 'N2', ebvDnaCopiesPerMl: 5200, treatment: 'IC+CCRT', age: 51 });
    const again = await node.api(p, { method: 'PUT', body: JSON.stringify({ nStage: 'N1' }) });
    assert.equal(again.status, 200);
    assert.deepEqual(node.clinical.get('PAT/001')!.clinical, { nStage: 'N1' });

    const bad = await node.api(p, { method: 'PUT', body: JSON.stringify({ nStage: 'N4', ebvDnaCopiesPerMl: -1, age: 130, sex: 'X', haemoglobinGPerL: 5, cycles: 2.5, weight: 70 }) });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { error: string; details: { path: string; message: string }[] };
    const paths = body.details.map((d) => d.path).sort();
    for (const f of ['nStage', 'ebvDnaCopiesPerMl', 'age', 'sex', 'haemoglobinGPerL', 'cycles']) assert.ok(paths.includes(f), `${f} not named: ${paths.join(', ')}`);
    assert.ok(body.details.some((d) => /weight/.test(d.message)), 'an unknown field is refused by name');
    assert.equal((await node.api(p, { method: 'PUT', body: '[1]' })).status, 400);
    assert.equal((await node.api(p, { method: 'PUT', body: '{"nStage":' })).status, 400);
    const re = await node.api(p + '?reanalyse=true', { method: 'PUT', body: '{}' });
    assert.equal(re.status, 200);
    assert.deepEqual(((await re.json()) as { reanalysis: unknown }).reanalysis, { jobIds: [], studies: 0 }, 'no study of this patient to re-analyse');
    assert.equal((await node.api(p, { method: 'DELETE' })).status, 204);
    assert.equal((await node.api(p)).status, 404);
  });

  it('refuses to start, naming the model, when a model file is corrupt', async () => {
    const t = tempDir();
    try {
      copyFixtureModels(t.dir, ['tiny-msom']);
      appendFileSync(path.join(t.dir, 'tiny-msom', 'model.onnx'), 'x');
      await assert.rejects(startTestNode({ models: { dir: t.dir } }), (e: unknown) => {
        assert.ok(e instanceof ModelRegistryError);
        assert.match(e.message, /tiny-msom: checksum mismatch/);
        return true;
      });
    } finally {
      t.cleanup();
    }
  });

  it('starts without models and says analyses are unavailable', async () => {
    const t = tempDir();
    const empty = await startTestNode({ models: { dir: path.join(t.dir, 'models') } });
    try {
      const ready = await fetch(`http://127.0.0.1:${empty.httpPort}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready', models: 0, analyses: 'unavailable: no models loaded' });
      assert.deepEqual(await (await empty.api('/api/v1/models')).json(), []);
    } finally {
      await empty.cleanup();
      t.cleanup();
    }
  });
});
