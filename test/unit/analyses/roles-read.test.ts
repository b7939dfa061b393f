/**
 * Which series roles a study's analyses read, from the shipped models' manifests: only those volumes are
 * decoded (the axial T1 is selected and reported, but no shipped model reads it).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { rolesReadBy } from '../../../src/analyses/roles-read';
import { ModelRegistry } from '../../../src/infer/model-registry';
import { silentLogger } from '../../../src/logging/logger';

const MODELS = path.resolve(__dirname, '..', '..', '..', '..', 'models');

describe('series roles read by the enabled analyses', () => {
  let registry: ModelRegistry;
  before(async function () {
    this.timeout(120_000);
    registry = await ModelRegistry.load({ dir: MODELS, executionProviders: ['cpu'], batchSize: 16 }, silentLogger());
  });
  after(async () => registry?.close());

  it('with the shipped models: CE-T1 (the localiser and most networks) and T2 (a stage network, the pre-treatment progression network), never T1', () => {
    const all = rolesReadBy(registry, ['stage', 'dmfs', 'msom', 'residual', 'progression']);
    assert.deepEqual([...all].sort(), ['ce-t1', 't2']);
    assert.ok(!all.includes('t1'));
  });

  it('follows the enabled analyses: DMFS and residual read CE-T1 only', () => {
    assert.deepEqual(rolesReadBy(registry, ['dmfs', 'residual']), ['ce-t1']);
  });

  it('reads nothing when no model of an enabled analysis is loaded', () => {
    const empty = ModelRegistry.empty({ dir: MODELS, executionProviders: ['cpu'], batchSize: 16 });
    assert.deepEqual(rolesReadBy(empty, ['stage', 'dmfs']), []);
    assert.deepEqual(rolesReadBy(registry, []), []);
  });
});
