import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ModelRegistry, ModelRegistryError } from '../../../src/infer/model-registry';
import { silentLogger } from '../../../src/logging/logger';
import { tempDir } from '../../helpers/temp-dir';
import { ALL_FIXTURE_MODELS, FIXTURE_MODELS_DIR, copyFixtureModels } from './model-fixtures';

const opts = (dir: string) => ({ dir, executionProviders: ['cpu'] as const, batchSize: 4 });

async function loadError(dir: string): Promise<ModelRegistryError> {
  try {
    const r = await ModelRegistry.load(opts(dir), silentLogger());
    await r.close();
  } catch (e) {
    assert.ok(e instanceof ModelRegistryError, `expected ModelRegistryError, got ${String(e)}`);
    return e;
  }
  assert.fail('the registry accepted a bad model');
}

function editManifest(dir: string, id: string, edit: (m: Record<string, any>) => void): void {
  const file = path.join(dir, id, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  edit(m);
  writeFileSync(file, JSON.stringify(m));
}

describe('model registry', () => {
  let t: { dir: string; cleanup: () => void };
  beforeEach(() => {
    t = tempDir('npcai-models-');
  });
  afterEach(() => t.cleanup());

  it('loads every committed test model on the CPU provider and reports id, version, checksum and provider', async () => {
    const r = await ModelRegistry.load(opts(FIXTURE_MODELS_DIR), silentLogger());
    try {
      assert.deepEqual(r.list().map((m) => m.manifest.id).sort(), [...ALL_FIXTURE_MODELS].sort());
      const s = r.summaries().find((x) => x.id === 'tiny-stage-a')!;
      assert.equal(s.version, '0.0.1-test');
      assert.match(s.sha256, /^[0-9a-f]{64}$/);
      assert.equal(s.provider, 'cpu');
      assert.equal(r.byTask('stage').length, 2);
    } finally {
      await r.close();
    }
  });

  it('starts with no models when the directory is missing or empty', async () => {
    const missing = await ModelRegistry.load(opts(path.join(t.dir, 'nope')), silentLogger());
    assert.equal(missing.size, 0);
    const empty = await ModelRegistry.load(opts(t.dir), silentLogger());
    assert.equal(empty.size, 0);
  });

  it('refuses a model whose file does not match the manifest checksum, naming the model', async () => {
    copyFixtureModels(t.dir, ['tiny-msom', 'tiny-dmfs']);
    appendFileSync(path.join(t.dir, 'tiny-dmfs', 'model.onnx'), Buffer.from([0]));
    const e = await loadError(t.dir);
    assert.equal(e.issues.length, 1);
    assert.equal(e.issues[0]!.model, 'tiny-dmfs');
    assert.match(e.issues[0]!.problem, /checksum mismatch/);
    assert.match(e.message, /tiny-dmfs: checksum mismatch/);
  });

  it('refuses a model whose ONNX file is missing', async () => {
    copyFixtureModels(t.dir, ['tiny-msom']);
    rmSync(path.join(t.dir, 'tiny-msom', 'model.onnx'));
    const e = await loadError(t.dir);
    assert.deepEqual(e.issues, [{ model: 'tiny-msom', problem: 'model file model.onnx is missing' }]);
  });

  it('refuses a manifest whose input or output names differ from the graph', async () => {
    copyFixtureModels(t.dir, ['tiny-msom', 'tiny-stage-a']);
    editManifest(t.dir, 'tiny-msom', (m) => {
      m.inputs[0].name = 'input_1';
    });
    editManifest(t.dir, 'tiny-stage-a', (m) => {
      m.outputs[1].name = 'gradcam';
      m.cam.output = 'gradcam';
    });
    const e = await loadError(t.dir);
    const byModel = (id: string) => e.issues.filter((i) => i.model === id).map((i) => i.problem).join(' | ');
    assert.match(byModel('tiny-msom'), /input name\(s\) input_1 in the manifest but not in the graph/);
    assert.match(byModel('tiny-msom'), /graph input\(s\) image not declared/);
    assert.match(byModel('tiny-stage-a'), /output name\(s\) gradcam in the manifest but not in the graph/);
  });

  it('refuses a manifest with a wrong fixed input size', async () => {
    copyFixtureModels(t.dir, ['tiny-msom']);
    editManifest(t.dir, 'tiny-msom', (m) => {
      m.inputs[0].shape = ['N', 1, 32, 32];
      m.preparation[2] = { op: 'resize', rows: 32, columns: 32 };
    });
    const e = await loadError(t.dir);
    assert.match(e.issues.map((i) => i.problem).join('\n'), /input image: dimension 2 is 64 in the graph, 32 in the manifest/);
  });

  it('collects schema problems of several models in one error', async () => {
    copyFixtureModels(t.dir, ['tiny-msom', 'tiny-dmfs', 'tiny-residual-ccrt']);
    editManifest(t.dir, 'tiny-msom', (m) => {
      delete m.researchUseOnly;
      m.cutoff.value = 1.5;
    });
    editManifest(t.dir, 'tiny-dmfs', (m) => {
      m.clinical.logistic.coefficients = [1, 2];
    });
    writeFileSync(path.join(t.dir, 'tiny-residual-ccrt', 'manifest.json'), '{ not json');
    const e = await loadError(t.dir);
    const text = e.issues.map((i) => `${i.model}: ${i.problem}`).join('\n');
    assert.match(text, /tiny-msom: manifest.json: researchUseOnly/);
    assert.match(text, /tiny-msom: manifest.json: cutoff.value/);
    assert.match(text, /tiny-dmfs: manifest.json: clinical.logistic.coefficients: 2 given, the encoding gives 5 values/);
    assert.match(text, /tiny-residual-ccrt: manifest.json is not valid JSON/);
  });

  it('refuses a manifest whose id differs from its directory, and a model without its card', async () => {
    copyFixtureModels(t.dir, ['tiny-msom']);
    editManifest(t.dir, 'tiny-msom', (m) => {
      m.id = 'other';
    });
    rmSync(path.join(t.dir, 'tiny-msom', 'MODEL_CARD.md'));
    const e = await loadError(t.dir);
    const text = e.issues.map((i) => i.problem).join('\n');
    assert.match(text, /manifest id "other" differs from its directory name/);
    assert.match(text, /MODEL_CARD.md is missing/);
  });

  it('refuses soft-voting partners that disagree on the cut-off', async () => {
    copyFixtureModels(t.dir, ['tiny-stage-a', 'tiny-stage-b']);
    editManifest(t.dir, 'tiny-stage-b', (m) => {
      m.cutoff.value = 0.6;
    });
    const e = await loadError(t.dir);
    assert.equal(e.issues[0]!.model, 'tiny-stage-b');
    assert.match(e.issues[0]!.problem, /cut-off 0.6 differs from tiny-stage-a's 0.5/);
  });
});
