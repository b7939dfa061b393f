import assert from 'node:assert/strict';
import path from 'node:path';
import { createModelSession, DEFAULT_SESSION_TUNING, NoExecutionProviderError, sessionOptions } from '../../../src/infer/session-pool';
import { ConfigSchema } from '../../../src/config/schema';
import { ModelRegistry } from '../../../src/infer/model-registry';
import { captureLogger } from '../../helpers/log-capture';
import { FIXTURE_MODELS_DIR } from './model-fixtures';

const MSOM = path.join(FIXTURE_MODELS_DIR, 'tiny-msom', 'model.onnx');

function seededImages(n: number, seed: number): Float32Array {
  const a = new Float32Array(n * 64 * 64);
  let s = seed;
  for (let i = 0; i < a.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    a[i] = s / 0x7fffffff;
  }
  return a;
}

describe('session pool', () => {
  it('falls back from webgpu and cuda to cpu on a machine without them, logs each fallback and reports cpu', async () => {
    const { logger, entries } = captureLogger();
    const s = await createModelSession('tiny-msom', MSOM, ['webgpu', 'cuda', 'cpu'], logger);
    try {
      assert.equal(s.provider, 'cpu');
      assert.deepEqual(s.attempts.map((a) => [a.provider, a.ok]), [['webgpu', false], ['cuda', false], ['cpu', true]]);
      const warns = entries.filter((e) => e.level === 'warn').map((e) => e.message);
      assert.equal(warns.length, 2);
      assert.match(warns[0]!, /model tiny-msom: execution provider webgpu unavailable \(.+\); falling back to cuda/);
      assert.match(warns[1]!, /model tiny-msom: execution provider cuda unavailable \(.+\); falling back to cpu/);
      assert.ok(entries.some((e) => e.level === 'info' && e.message === 'model tiny-msom: execution provider cpu'));
    } finally {
      await s.release();
    }
  });

  it('fails naming every provider tried when none can load the model', async () => {
    const { logger, entries } = captureLogger();
    await assert.rejects(createModelSession('tiny-msom', MSOM, ['cuda'], logger), (e: unknown) => {
      assert.ok(e instanceof NoExecutionProviderError);
      assert.match(e.message, /model tiny-msom: no execution provider could load it \(cuda: /);
      return true;
    });
    assert.match(entries.find((e) => e.level === 'warn')!.message, /cuda unavailable .*; no provider left/);
  });

  it('the registry reports the provider actually used after a fallback', async () => {
    const { logger } = captureLogger();
    const r = await ModelRegistry.load({ dir: FIXTURE_MODELS_DIR, executionProviders: ['webgpu', 'cpu'], batchSize: 4 }, logger);
    try {
      const s = r.summaries().find((m) => m.id === 'tiny-msom')!;
      assert.equal(s.provider, 'cpu');
      assert.deepEqual(s.providersTried.map((a) => a.provider), ['webgpu', 'cpu']);
      assert.equal(s.providersTried[0]!.ok, false);
    } finally {
      await r.close();
    }
  });

  it('gives the same outputs whether slices run in one batch or in batches of 3', async () => {
    const { logger } = captureLogger();
    const s = await createModelSession('tiny-msom', MSOM, ['cpu'], logger);
    try {
      const data = seededImages(7, 42);
      const whole = await s.run({ image: { data, dims: [7, 1, 64, 64] } });
      const batched = await s.runBatched({ image: { data, dims: [7, 1, 64, 64] } }, { batchSize: 3 });
      assert.deepEqual(batched.probability!.dims, [7, 1]);
      assert.deepEqual(batched.cam!.dims, [7, 16, 16]);
      for (let i = 0; i < 7; i++) assert.ok(Math.abs(batched.probability!.data[i]! - whole.probability!.data[i]!) < 1e-6);
      const fixed = await s.runBatched({ image: { data, dims: [7, 1, 64, 64] } }, { batchSize: 3, fixedBatch: 4 });
      assert.deepEqual(fixed.probability!.dims, [7, 1]);
      for (let i = 0; i < 7; i++) assert.ok(Math.abs(fixed.probability!.data[i]! - whole.probability!.data[i]!) < 1e-6);
    } finally {
      await s.release();
    }
  });

  it('turns allowSpinning into both thread pools\' session config entries, and the node and its config default to sleeping threads', () => {
    assert.deepEqual(sessionOptions('cpu', { allowSpinning: false }).extra, { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } });
    assert.deepEqual(sessionOptions('cpu', { allowSpinning: true }).extra, { session: { intra_op: { allow_spinning: '1' }, inter_op: { allow_spinning: '1' } } });
    assert.equal(sessionOptions('cpu', {}).extra, undefined, 'nothing given: ONNX Runtime decides');
    const o = sessionOptions('cpu', { intraOpThreads: 3, interOpThreads: 1, memoryArena: false, executionMode: 'parallel', graphOptimizationLevel: 'basic' });
    assert.deepEqual([o.intraOpNumThreads, o.interOpNumThreads, o.enableCpuMemArena, o.executionMode, o.graphOptimizationLevel], [3, 1, false, 'parallel', 'basic']);
    assert.equal(DEFAULT_SESSION_TUNING.allowSpinning, false);
    const runtime = ConfigSchema.parse({}).models.runtime;
    assert.equal(runtime.allowSpinning, false);
    assert.equal(runtime.graphOptimizationLevel, 'all');
    assert.throws(() => ConfigSchema.parse({ models: { runtime: { intraOpThreads: 0 } } }));
    assert.throws(() => ConfigSchema.parse({ models: { runtime: { spinning: true } } }), 'unknown keys are refused');
  });

  it('a session opened with spinning threads or sleeping ones gives the same outputs', async () => {
    const { logger } = captureLogger();
    const data = seededImages(5, 7);
    const outs = [];
    for (const allowSpinning of [true, false]) {
      const s = await createModelSession('tiny-msom', MSOM, ['cpu'], logger, { allowSpinning, intraOpThreads: 2 });
      try {
        outs.push(await s.run({ image: { data, dims: [5, 1, 64, 64] } }));
      } finally {
        await s.release();
      }
    }
    assert.deepEqual(outs[0]!.probability!.data, outs[1]!.probability!.data);
    assert.deepEqual(outs[0]!.cam!.data, outs[1]!.cam!.data);
  });
});
