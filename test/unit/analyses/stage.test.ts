import assert from 'node:assert/strict';
import { softVoteBinary } from '../../../src/analyses/aggregation';
import { runAnalyses } from '../../../src/analyses/run-analyses';
import { MIN_STAGE_NETWORKS, analyseStage, stageAnalysis } from '../../../src/analyses/stage';
import type { ModelRegistry } from '../../../src/infer/model-registry';
import { assessedOf, reasonOf } from './result-helpers';
import { syntheticStudy } from './synthetic-study';
import { NO_LOCALISATION, STUDY_UID, contextOf, faulty, loadFixtureModels, localisationOf, withCutoff, withModels } from './analysis-context';


describe('stage analysis (paper 000), called directly', () => {
  let registry: ModelRegistry;
  before(async () => {
    registry = await loadFixtureModels();
  });
  after(async () => registry.close());

  it('soft-votes the networks: the patient probability is the mean of the networks\' patient means', async () => {
    const ctx = contextOf(registry);
    const r = assessedOf(await analyseStage(ctx, await localisationOf(ctx)));
    assert.equal(r.analysis, 'stage');
    assert.equal(r.title, stageAnalysis.title);
    assert.deepEqual(r.models.map((m) => m.id), ['tiny-stage-a', 'tiny-stage-b']);
    const a = r.components!['tiny-stage-a']!;
    const b = r.components!['tiny-stage-b']!;
    assert.ok(Math.abs(r.probability - softVoteBinary([a, b])) < 1e-12);
    assert.ok(Math.abs(r.probability - (a + b) / 2) < 1e-12);
    assert.equal(r.components!.networksVote, r.probability, 'no image signature: the vote is the answer');
    assert.match(r.notes![0]!, /^soft vote of 2 networks; probability of IVa$/);
    assert.equal(r.clinicalCovariatesUsed, false);
  });

  it('answers IVa at or above the shared cut-off and III below it', async () => {
    const ctx = contextOf(registry);
    const loc = await localisationOf(ctx);
    const p = assessedOf(await analyseStage(ctx, loc)).probability;
    const at = withModels(registry, { stage: (ms) => ms.map((m) => withCutoff(m, p)) });
    const atResult = assessedOf(await analyseStage(contextOf(at), loc));
    assert.equal(atResult.value, 'IVa');
    assert.equal(atResult.valueText, 'AJCC stage IVa');
    assert.equal(atResult.cutoff, p);
    const above = withModels(registry, { stage: (ms) => ms.map((m) => withCutoff(m, p + 1e-9)) });
    const aboveResult = assessedOf(await analyseStage(contextOf(above), loc));
    assert.equal(aboveResult.value, 'III');
    assert.equal(aboveResult.probability, p, 'the cut-off does not change the probability');
  });

  it(`is not assessable with fewer than ${MIN_STAGE_NETWORKS} networks, without localisation, or without a series a network needs`, async () => {
    const ctx = contextOf(registry);
    const loc = await localisationOf(ctx);
    const one = withModels(registry, { stage: (ms) => ms.slice(0, 1) });
    assert.equal(reasonOf(await analyseStage(contextOf(one), loc)), 'the stage analysis needs at least 2 networks for soft voting; 1 loaded');
    const zero = withModels(registry, { stage: () => [] });
    assert.match(reasonOf(await analyseStage(contextOf(zero), loc)), /; 0 loaded$/);
    assert.equal(reasonOf(await analyseStage(ctx, NO_LOCALISATION)), NO_LOCALISATION.reason);
    const ceOnly = contextOf(registry, { volumes: syntheticStudy(STUDY_UID, 11, ['ce-t1']) });
    const r = await analyseStage(ceOnly, await localisationOf(ceOnly));
    assert.equal(reasonOf(r), 'no t2 series (model tiny-stage-b needs ce-t1 + t2)');
    assert.equal(r.analysis, 'stage');
    assert.equal(r.title, 'AJCC stage III vs IVa');
  });

  it('lets a model fault through (it is a fault, not a property of the study); the runner reports it as such', async () => {
    const broken = withModels(registry, { stage: (ms) => [ms[0]!, faulty(ms[1]!)] });
    const ctx = contextOf(broken);
    await assert.rejects(analyseStage(ctx, await localisationOf(ctx)), /ONNX runtime: bad allocation/);
    const { results } = await runAnalyses(ctx, ['stage', 'dmfs']);
    assert.equal(reasonOf(results[0]!), 'analysis failed: ONNX runtime: bad allocation');
    assert.equal(results[1]!.assessable, true, 'the other analyses keep their results');
  });
});
