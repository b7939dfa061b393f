import assert from 'node:assert/strict';
import { camFromFeatures, camFromOutput, mapCamToSource, normaliseCam } from '../../../src/analyses/cam';
import { ModelRegistry } from '../../../src/infer/model-registry';
import { silentLogger } from '../../../src/logging/logger';
import { copyFixtureModels } from '../infer/model-fixtures';
import { tempDir } from '../../helpers/temp-dir';

describe('class-activation maps', () => {
  it('a CAM from the in-graph output equals the CAM from features + classifier weights (GAP + linear head)', async () => {
    const t = tempDir();
    copyFixtureModels(t.dir, ['tiny-msom-fusion']);
    const r = await ModelRegistry.load({ dir: t.dir, executionProviders: ['cpu'], batchSize: 4 }, silentLogger());
    try {
      const m = r.get('tiny-msom-fusion')!;
      assert.equal(m.manifest.cam?.kind, 'feature-map+weights');
      const weights = m.manifest.cam!.kind === 'feature-map+weights' ? m.manifest.cam!.weights : [];
      let s = 7;
      const image = Float32Array.from({ length: 3 * 64 * 64 }, () => ((s = (s * 48271) % 2147483647) / 2147483647));
      const clinical = Float32Array.from({ length: 3 * 13 }, (_, i) => (i % 5) - 2);
      const out = await m.session.run({ image: { data: image, dims: [3, 1, 64, 64] }, clinical: { data: clinical, dims: [3, 13] } });
      for (let i = 0; i < 3; i++) {
        const inGraph = camFromOutput(out.cam!, i);
        const fromFeatures = camFromFeatures(out.features!, i, weights);
        assert.equal(inGraph.rows, 16);
        assert.equal(fromFeatures.columns, 16);
        let maxDiff = 0;
        let maxValue = 0;
        for (let k = 0; k < inGraph.data.length; k++) {
          maxDiff = Math.max(maxDiff, Math.abs(inGraph.data[k]! - fromFeatures.data[k]!));
          maxValue = Math.max(maxValue, inGraph.data[k]!);
        }
        assert.ok(maxValue > 0, 'the test needs a non-zero map');
        assert.ok(maxDiff <= 1e-5 * Math.max(1, maxValue), `maps differ by ${maxDiff}`);
      }
    } finally {
      await r.close();
      t.cleanup();
    }
  });

  it('normalises to 0..1 and maps back to source pixels, zero outside the crop', () => {
    const cam = normaliseCam({ rows: 2, columns: 2, data: Float32Array.of(0, 2, 4, 8) });
    assert.deepEqual([...cam.data], [0, 0.25, 0.5, 1]);
    // A 4x4 input that covered source pixels x 10..18, y 20..28 (scale 2) of a 32x32 slice.
    const out = mapCamToSource(cam, { rows: 4, columns: 4 }, { scaleX: 2, scaleY: 2, offsetX: 10, offsetY: 20 }, { rows: 32, columns: 32 });
    assert.equal(out.length, 32 * 32);
    assert.equal(out[0], 0);
    assert.equal(out[19 * 32 + 12], 0, 'above the crop');
    assert.equal(out[20 * 32 + 10], 0, 'top-left cell');
    assert.equal(out[27 * 32 + 17], 1, 'bottom-right cell');
    assert.equal(out[28 * 32 + 17], 0, 'below the crop');
    assert.ok(Math.max(...out) <= 1 && Math.min(...out) >= 0);
  });
});
