import assert from 'node:assert/strict';
import { softVoteBinary } from '../../../src/analyses/aggregation';
import type { PriorStudyProvider } from '../../../src/analyses/ports';
import { analyseProgression, orderStudies, progressionAnalysis } from '../../../src/analyses/progression';
import type { ModelRegistry } from '../../../src/infer/model-registry';
import type { Volume } from '../../../src/prepare/volume-types';
import { NO_LOCALISATION, STUDY_UID, contextOf, environmentOf, faulty, loadFixtureModels, localisationOf, none, withCutoff, withModels } from './analysis-context';
import { assessedOf, reasonOf } from './result-helpers';
import { syntheticStudy } from './synthetic-study';

const OTHER_UID = '1.2.3.200';

function otherStudy(studyDate: string | undefined, volumes: Record<string, Volume> = syntheticStudy(OTHER_UID, 99)): PriorStudyProvider {
  return { findOtherStudy: async () => ({ studyInstanceUid: OTHER_UID, ...(studyDate ? { studyDate } : {}), volumes, source: 'pacs' }) };
}

describe('progression analysis (paper 001), called directly', () => {
  let registry: ModelRegistry;
  before(async () => {
    registry = await loadFixtureModels();
  });
  after(async () => registry.close());

  const run = async (over: Parameters<typeof contextOf>[1], models = registry as Parameters<typeof contextOf>[0]) => {
    const ctx = contextOf(models, over);
    return analyseProgression(ctx, await localisationOf(ctx), environmentOf(ctx).localise);
  };

  it('tells pre- from post-treatment by StudyDate', () => {
    assert.equal(orderStudies('20240101', '20240601'), 'current-is-pre');
    assert.equal(orderStudies('20240601', '20240101'), 'current-is-post');
    assert.equal(orderStudies('20240101', '20240101'), undefined);
    assert.equal(orderStudies(undefined, '20240101'), undefined);
    assert.equal(orderStudies('2024-01-01', '20240601'), undefined);
  });

  it('soft-votes the pre-model on the earlier study and the post-model on the later one', async () => {
    const r = assessedOf(await run({ studyDate: '20240601', priorStudies: otherStudy('20240101') }));
    assert.equal(r.title, progressionAnalysis.title);
    const { pre, post } = r.components as { pre: number; post: number };
    assert.ok(Math.abs(r.probability - softVoteBinary([pre, post])) < 1e-12);
    assert.deepEqual(r.models.map((m) => m.id), ['tiny-progression-pre', 'tiny-progression-post']);
    // This study is the later one: the first images (the pre-model's) are the other study's.
    assert.equal(r.inputs.images[0]!.studyInstanceUid, OTHER_UID);
    assert.match(r.notes![0]!, /pre-treatment model \(the other study\) and the post-treatment model \(this study\)/);
    assert.match(r.notes![1]!, /from the PACS$/);
  });

  it('puts the vote in the high group at or above the cut-off', async () => {
    const priorStudies = otherStudy('20240601');
    const p = assessedOf(await run({ priorStudies })).probability;
    const at = withModels(registry, { 'progression-pre': (ms) => ms.map((m) => withCutoff(m, p)) });
    assert.equal(assessedOf(await run({ priorStudies }, at)).group, 'high');
    const above = withModels(registry, { 'progression-pre': (ms) => ms.map((m) => withCutoff(m, p + 1e-9)) });
    const low = assessedOf(await run({ priorStudies }, above));
    assert.equal(low.group, 'low');
    assert.equal(low.valueText, 'Low risk of progression');
  });

  it('names why it is not assessable: models, prior-study source, other study, dates, localisation of either study', async () => {
    const priorStudies = otherStudy('20240601');
    assert.equal(reasonOf(await run({ priorStudies }, withModels(registry, { 'progression-post': none }))), 'no post-treatment progression model loaded');
    assert.match(reasonOf(await run({})), /cannot be looked up: no prior-study source configured$/);
    assert.match(reasonOf(await run({ priorStudies, patientId: undefined })), /cannot be looked up/);
    const nothing: PriorStudyProvider = { findOtherStudy: async () => undefined };
    assert.equal(reasonOf(await run({ priorStudies: nothing })), 'no other MR study of this patient was found (pre- and post-treatment MR are both needed)');
    assert.equal(reasonOf(await run({ priorStudies: otherStudy('20240101') })), 'cannot tell which study is pre-treatment: study dates missing or equal');
    assert.equal(reasonOf(await run({ priorStudies: otherStudy(undefined) })), 'cannot tell which study is pre-treatment: study dates missing or equal');
    const ctx = contextOf(registry, { priorStudies });
    assert.equal(reasonOf(await analyseProgression(ctx, NO_LOCALISATION, environmentOf(ctx).localise)), NO_LOCALISATION.reason);
    const otherT2Only = otherStudy('20240601', syntheticStudy(OTHER_UID, 99, ['t2']));
    assert.match(reasonOf(await run({ priorStudies: otherT2Only })), /^other study: no ce-t1 series \(the localiser needs it/);
    // The models need T2 and CE-T1 of both studies.
    const ceOnly = { priorStudies, volumes: syntheticStudy(STUDY_UID, 11, ['ce-t1']) };
    assert.equal(reasonOf(await run(ceOnly)), 'no t2 series (model tiny-progression-pre needs t2 + ce-t1)');
  });

  it('lets a model fault through', async () => {
    const broken = withModels(registry, { 'progression-post': (ms) => ms.map((m) => faulty(m)) });
    await assert.rejects(run({ priorStudies: otherStudy('20240601') }, broken), /bad allocation/);
  });
});
