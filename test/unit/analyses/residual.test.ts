import assert from 'node:assert/strict';
import { analyseResidual, residualAnalysis } from '../../../src/analyses/residual';
import type { LoadedModel, ModelRegistry } from '../../../src/infer/model-registry';
import { NO_LOCALISATION, STUDY_UID, contextOf, faulty, loadFixtureModels, localisationOf, none, withCutoff, withModels } from './analysis-context';
import { assessedOf, reasonOf } from './result-helpers';
import { syntheticStudy } from './synthetic-study';

describe('residual-tumour analysis and recommendation (paper 002), called directly', () => {
  let registry: ModelRegistry;
  before(async () => {
    registry = await loadFixtureModels();
  });
  after(async () => registry.close());

  const cutoffs = (ccrt: number, ic: number) =>
    contextOf(
      withModels(registry, {
        'residual-ccrt': (ms: LoadedModel[]) => ms.map((m) => withCutoff(m, ccrt)),
        'residual-ic-ccrt': (ms: LoadedModel[]) => ms.map((m) => withCutoff(m, ic)),
      }),
    );

  it('scores both regimens\' models on the top tumour slices and reports both probabilities and cut-offs', async () => {
    const ctx = contextOf(registry);
    const r = assessedOf(await analyseResidual(ctx, await localisationOf(ctx)));
    assert.equal(r.title, residualAnalysis.title);
    assert.deepEqual(r.models.map((m) => m.id), ['tiny-residual-ccrt', 'tiny-residual-ic-ccrt']);
    const c = r.components!;
    assert.equal(c.ccrtCutoff, 0.5);
    assert.equal(c.icCcrtCutoff, 0.5);
    assert.equal(c['ccrt.networksVote'], c.ccrt);
    assert.equal(c['icCcrt.networksVote'], c.icCcrt);
  });

  it('recommends CCRT, IC + CCRT or IBT from the two cut-offs, showing the probability under the recommended regimen', async () => {
    const loc = await localisationOf(contextOf(registry));
    const ccrt = await analyseResidual(cutoffs(1.5, 1.5), loc);
    const { ccrt: pCcrt, icCcrt: pIc } = assessedOf(ccrt).components as { ccrt: number; icCcrt: number };
    assert.equal(assessedOf(ccrt).value, 'CCRT', 'no residual after CCRT');
    assert.equal(assessedOf(ccrt).probability, pCcrt);
    // Residual after CCRT (p >= its cut-off, here exactly at it), none after IC + CCRT.
    const ic = assessedOf(await analyseResidual(cutoffs(pCcrt, 1.5), loc));
    assert.equal(ic.value, 'IC+CCRT');
    assert.equal(ic.probability, pIc);
    assert.match(ic.valueText, /^IC \+ CCRT recommended/);
    const ibt = assessedOf(await analyseResidual(cutoffs(0, pIc), loc));
    assert.equal(ibt.value, 'IBT');
    assert.equal(ibt.probability, Math.min(pCcrt, pIc));
    // No residual after CCRT wins whatever IC + CCRT predicts.
    assert.equal(assessedOf(await analyseResidual(cutoffs(pCcrt + 1e-9, 0), loc)).value, 'CCRT');
  });

  it('is not assessable without both models, without localisation, or without the CE-T1 series', async () => {
    const ctx = contextOf(registry);
    const loc = await localisationOf(ctx);
    assert.equal(
      reasonOf(await analyseResidual(contextOf(withModels(registry, { 'residual-ic-ccrt': none })), loc)),
      'no residual-tumour model loaded for IC + CCRT (the recommendation needs both)',
    );
    assert.equal(
      reasonOf(await analyseResidual(contextOf(withModels(registry, { 'residual-ccrt': none, 'residual-ic-ccrt': none })), loc)),
      'no residual-tumour model loaded for CCRT and IC + CCRT (the recommendation needs both)',
    );
    assert.equal(reasonOf(await analyseResidual(ctx, NO_LOCALISATION)), NO_LOCALISATION.reason);
    const t2Only = contextOf(registry, { volumes: syntheticStudy(STUDY_UID, 11, ['t2']) });
    assert.equal(reasonOf(await analyseResidual(t2Only, loc)), 'no ce-t1 series (model tiny-residual-ccrt needs ce-t1)');
  });

  it('lets a model fault through', async () => {
    const ctx = contextOf(withModels(registry, { 'residual-ic-ccrt': (ms) => ms.map((m) => faulty(m)) }));
    await assert.rejects(analyseResidual(ctx, await localisationOf(ctx)), /bad allocation/);
  });
});
