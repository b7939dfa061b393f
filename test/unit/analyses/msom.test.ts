import assert from 'node:assert/strict';
import { mean } from '../../../src/analyses/aggregation';
import { analyseMsom, msomAnalysis } from '../../../src/analyses/msom';
import type { ModelRegistry } from '../../../src/infer/model-registry';
import { NO_LOCALISATION, STUDY_UID, contextOf, faulty, loadFixtureModels, localisationOf, none, withCutoff, withModels } from './analysis-context';
import { assessedOf, reasonOf } from './result-helpers';
import { syntheticStudy } from './synthetic-study';

const FULL_CLINICAL = {
  nStage: 'N2',
  ebvDnaCopiesPerMl: 12000,
  treatment: 'IC+CCRT',
  age: 48,
  sex: 'M',
  clinicalStage: 'IVa',
  pni: 51,
  haemoglobinGPerL: 140,
  doseGy: 70,
  cisplatinMgM2: 200,
  cycles: 3,
} as const;

describe('MSOM analysis (paper 004), called directly', () => {
  let registry: ModelRegistry;
  before(async () => {
    registry = await loadFixtureModels();
  });
  after(async () => registry.close());

  const imageOnly = (r: ModelRegistry) => withModels(r, { msom: (ms) => ms.filter((m) => m.manifest.clinical?.use !== 'input') });
  const fusionOnly = (r: ModelRegistry) => withModels(r, { msom: (ms) => ms.filter((m) => m.manifest.clinical?.use === 'input') });

  it('takes the mean of the tumour slices\' scores; image only when the clinical vector is incomplete, and says why', async () => {
    const ctx = contextOf(registry);
    const r = assessedOf(await analyseMsom(ctx, await localisationOf(ctx)));
    assert.equal(r.title, msomAnalysis.title);
    assert.deepEqual(r.models.map((m) => m.id), ['tiny-msom']);
    assert.ok(Math.abs(r.probability - mean(r.sliceScores.map((s) => s.probability))) < 1e-6);
    assert.match(r.notes![0]!, /^image only: the clinical vector is incomplete \(not known: /);
    assert.equal(r.clinicalCovariatesUsed, false);
  });

  it('uses the early-fusion model when every clinical variable is known', async () => {
    const ctx = contextOf(registry, { clinical: FULL_CLINICAL });
    const r = assessedOf(await analyseMsom(ctx, await localisationOf(ctx)));
    assert.deepEqual(r.models.map((m) => m.id), ['tiny-msom-fusion']);
    assert.equal(r.clinicalCovariatesUsed, true);
    assert.match(r.notes![0]!, /^early fusion of the CE-T1 score with age, sex/);
    assert.equal(r.valueText.endsWith('(image only)'), false);
  });

  it('puts the score in the high group at or above the chosen model\'s cut-off', async () => {
    const ctx = contextOf(imageOnly(registry));
    const loc = await localisationOf(ctx);
    const p = assessedOf(await analyseMsom(ctx, loc)).probability;
    const at = withModels(imageOnly(registry), { msom: (ms) => ms.map((m) => withCutoff(m, p)) });
    assert.equal(assessedOf(await analyseMsom(contextOf(at), loc)).group, 'high');
    const above = withModels(imageOnly(registry), { msom: (ms) => ms.map((m) => withCutoff(m, p + 1e-9)) });
    const low = assessedOf(await analyseMsom(contextOf(above), loc));
    assert.equal(low.group, 'low');
    assert.equal(low.valueText, 'Low MSOM risk (image only)');
  });

  it('is not assessable without a model, with only a fusion model and unknown covariates, without localisation or CE-T1', async () => {
    const ctx = contextOf(registry);
    const loc = await localisationOf(ctx);
    assert.equal(reasonOf(await analyseMsom(contextOf(withModels(registry, { msom: none })), loc)), 'no MSOM model loaded');
    assert.match(
      reasonOf(await analyseMsom(contextOf(fusionOnly(registry)), loc)),
      /^the MSOM model needs clinical covariates \(not known: age, sex, .*\) and no image-only MSOM model is loaded$/,
    );
    assert.equal(reasonOf(await analyseMsom(ctx, NO_LOCALISATION)), NO_LOCALISATION.reason);
    const t2Only = contextOf(registry, { volumes: syntheticStudy(STUDY_UID, 11, ['t2']) });
    assert.equal(reasonOf(await analyseMsom(t2Only, loc)), 'no ce-t1 series (model tiny-msom needs ce-t1)');
  });

  it('lets a model fault through', async () => {
    const ctx = contextOf(withModels(registry, { msom: (ms) => ms.map((m) => faulty(m)) }));
    await assert.rejects(analyseMsom(ctx, await localisationOf(ctx)), /bad allocation/);
  });
});
