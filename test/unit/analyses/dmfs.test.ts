import assert from 'node:assert/strict';
import { dmfsAnalysis, analyseDmfs } from '../../../src/analyses/dmfs';
import type { ModelRegistry } from '../../../src/infer/model-registry';
import { NO_LOCALISATION, STUDY_UID, contextOf, faulty, loadFixtureModels, localisationOf, none, withCutoff, withModels } from './analysis-context';
import { assessedOf, reasonOf } from './result-helpers';
import { syntheticStudy } from './synthetic-study';

const KNOWN = { nStage: 'N2', ebvDnaCopiesPerMl: 12000, treatment: 'IC+CCRT' } as const;

describe('DMFS analysis (paper 003), called directly', () => {
  let registry: ModelRegistry;
  before(async () => {
    registry = await loadFixtureModels();
  });
  after(async () => registry.close());

  it('scores the largest-tumour slice only; image only, the signature is the risk against the image-only cut-off', async () => {
    const ctx = contextOf(registry);
    const r = assessedOf(await analyseDmfs(ctx, await localisationOf(ctx)));
    assert.equal(r.title, dmfsAnalysis.title);
    assert.deepEqual(r.inputs.images.map((i) => i.sopInstanceUid), ['1.2.3.100.1.4']);
    assert.equal(r.probability, r.components!.signature);
    assert.equal(r.cutoff, 0.5);
    assert.equal(r.clinicalCovariatesUsed, false);
    assert.match(r.valueText, /\(image only\)$/);
  });

  it('combines the signature with N stage, EBV-DNA and treatment when known (logistic model, its own cut-off)', async () => {
    const ctx = contextOf(registry, { clinical: KNOWN });
    const r = assessedOf(await analyseDmfs(ctx, await localisationOf(ctx)));
    const sig = r.components!.signature!;
    assert.ok(Math.abs(r.probability - 1 / (1 + Math.exp(-(-2 + 3 * sig + 1 + 0.8 - 0.3)))) < 1e-12);
    assert.equal(r.components!.combined, r.probability);
    assert.equal(r.cutoff, 0.45);
    assert.deepEqual(r.clinicalVariables, ['nStage', 'ebvDnaCopiesPerMl', 'treatment']);
  });

  it('puts the risk in the high group at or above the cut-off and in the low group below it', async () => {
    const ctx = contextOf(registry);
    const loc = await localisationOf(ctx);
    const p = assessedOf(await analyseDmfs(ctx, loc)).probability;
    const at = assessedOf(await analyseDmfs(contextOf(withModels(registry, { dmfs: (ms) => ms.map((m) => withCutoff(m, p)) })), loc));
    assert.equal(at.group, 'high');
    assert.equal(at.value, 'high');
    assert.equal(at.valueText, 'High DMFS risk (image only)');
    const above = assessedOf(await analyseDmfs(contextOf(withModels(registry, { dmfs: (ms) => ms.map((m) => withCutoff(m, p + 1e-9)) })), loc));
    assert.equal(above.group, 'low');
    // With the clinical variables known, the combined model's own cut-off decides.
    const cctx = contextOf(registry, { clinical: KNOWN });
    const combined = assessedOf(await analyseDmfs(cctx, loc)).probability;
    const clinicalAt = withModels(registry, { dmfs: (ms) => ms.map((m) => withCutoff(m, 0, combined + 1e-9)) });
    assert.equal(assessedOf(await analyseDmfs(contextOf(clinicalAt, { clinical: KNOWN }), loc)).group, 'low');
  });

  it('is not assessable without a model, without localisation, or without the CE-T1 series', async () => {
    const ctx = contextOf(registry);
    const loc = await localisationOf(ctx);
    assert.equal(reasonOf(await analyseDmfs(contextOf(withModels(registry, { dmfs: none })), loc)), 'no DMFS model loaded');
    assert.equal(reasonOf(await analyseDmfs(ctx, NO_LOCALISATION)), NO_LOCALISATION.reason);
    const t2Only = contextOf(registry, { volumes: syntheticStudy(STUDY_UID, 11, ['t2']) });
    assert.equal(reasonOf(await analyseDmfs(t2Only, loc)), 'no ce-t1 series (model tiny-dmfs needs ce-t1)');
  });

  it('lets a model fault through', async () => {
    const ctx = contextOf(withModels(registry, { dmfs: (ms) => ms.map((m) => faulty(m)) }));
    await assert.rejects(analyseDmfs(ctx, await localisationOf(ctx)), /bad allocation/);
  });
});
