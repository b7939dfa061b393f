import assert from 'node:assert/strict';
import { ModelRegistry } from '../../../src/infer/model-registry';
import { silentLogger } from '../../../src/logging/logger';
import { createPreparer } from '../../../src/analyses/prepare-adapter';
import { localiseStudy, runAnalyses } from '../../../src/analyses/run-analyses';
import type { AnalysisContext } from '../../../src/analyses/context';
import type { AnalysisResult, AssessedResult } from '../../../src/analyses/types';
import type { PriorStudyProvider } from '../../../src/analyses/ports';
import { FIXTURE_MODELS_DIR, copyFixtureModels } from '../infer/model-fixtures';
import { tempDir } from '../../helpers/temp-dir';
import { SIZE, syntheticStudy } from './synthetic-study';

const ALL = ['stage', 'dmfs', 'msom', 'residual', 'progression'] as const;
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

function byId(results: AnalysisResult[], id: string): AnalysisResult {
  const r = results.find((x) => x.analysis === id);
  assert.ok(r, `no ${id} result`);
  return r;
}
function assessedOf(results: AnalysisResult[], id: string): AssessedResult {
  const r = byId(results, id);
  assert.ok(r.assessable, `${id} not assessable: ${!r.assessable ? r.reason : ''}`);
  return r;
}

describe('analysis orchestration on synthetic slices with the tiny models', () => {
  let registry: ModelRegistry;
  before(async () => {
    registry = await ModelRegistry.load({ dir: FIXTURE_MODELS_DIR, executionProviders: ['cpu'], batchSize: 4 }, silentLogger());
  });
  after(async () => registry.close());

  const ctx = (over: Partial<AnalysisContext> = {}): AnalysisContext => ({
    studyInstanceUid: '1.2.3.100',
    patientId: 'P1',
    studyDate: '20240101',
    volumes: syntheticStudy('1.2.3.100', 11),
    models: registry,
    preparer: createPreparer(),
    ...over,
  });

  it('localises the tumour and the node on the right slices, with boxes in source pixels and the largest-tumour slice', async () => {
    const loc = await localiseStudy(ctx(), ctx().volumes);
    assert.ok(loc.ok);
    const r = loc.result;
    assert.deepEqual(r.slices.map((s) => s.detections.filter((d) => d.label === 'GTV').length), [0, 0, 1, 1, 1, 0]);
    // The node (centre 95, 90) is found on slices 1-3. (The toy localiser also labels the blurred rim of the
    // bright tumour as node tissue, so only the node's own detection is checked.)
    const nodeFound = r.slices.map((s) =>
      s.detections.some((d) => d.label === 'GTVln' && d.box.x0 <= 95 && d.box.x1 > 95 && d.box.y0 <= 90 && d.box.y1 > 90),
    );
    assert.deepEqual(nodeFound, [false, true, true, true, false, false]);
    assert.equal(r.slices[0]!.detections.length + r.slices[5]!.detections.length, 0);
    assert.equal(r.largestTumourSlice, 3);
    const gtv = r.slices[3]!.detections.find((d) => d.label === 'GTV')!;
    // Painted: centre (60, 50), radius 14 -> x 46..74, y 36..64 (the 64x64 grid blurs edges by a pixel or two).
    assert.ok(Math.abs(gtv.box.x0 - 46) <= 3 && Math.abs(gtv.box.x1 - 75) <= 3, JSON.stringify(gtv.box));
    assert.ok(Math.abs(gtv.box.y0 - 36) <= 3 && Math.abs(gtv.box.y1 - 65) <= 3, JSON.stringify(gtv.box));
    assert.ok(Math.abs(gtv.areaPx - Math.PI * 14 * 14) / (Math.PI * 14 * 14) < 0.25, `area ${gtv.areaPx}`);
    assert.equal(gtv.image.sopInstanceUid, '1.2.3.100.1.4');
    const roi = r.slices[3]!.roi!;
    // GTV + GTVln union grown by 10 mm (1 mm pixels), clipped to the 128 x 128 slice.
    assert.ok(roi.x0 <= gtv.box.x0 - 9 && roi.y0 <= gtv.box.y0 - 9 && roi.x1 <= SIZE && roi.y1 <= SIZE);
    assert.equal(r.slices[0]!.roi, undefined);
  });

  it('gives every analysis a patient answer with its models, cut-off, inputs, CAMs and timings', async () => {
    const { results, localisation } = await runAnalyses(ctx(), ['stage', 'dmfs', 'msom', 'residual']);
    assert.ok(localisation);
    const stage = assessedOf(results, 'stage');
    assert.ok(stage.value === 'III' || stage.value === 'IVa');
    assert.deepEqual(stage.models.map((m) => [m.id, m.provider]), [['tiny-stage-a', 'cpu'], ['tiny-stage-b', 'cpu']]);
    // Soft vote: the mean of the two networks' patient-level probabilities; the answer follows the cut-off.
    const comps = stage.components!;
    assert.ok(Math.abs(stage.probability - (comps['tiny-stage-a']! + comps['tiny-stage-b']!) / 2) < 1e-9);
    assert.equal(stage.value, stage.probability >= 0.5 ? 'IVa' : 'III');
    // Tumour slices (GTV or GTVln): 1..4.
    assert.deepEqual(stage.inputs.images.map((i) => i.sopInstanceUid), ['1.2.3.100.1.2', '1.2.3.100.1.3', '1.2.3.100.1.4', '1.2.3.100.1.5']);
    assert.deepEqual(stage.inputs.series.map((s) => s.role).sort(), ['ce-t1', 't2']);
    // The patient probability is the mean of the per-slice (per-patch) soft votes.
    const sliceMean = stage.sliceScores.reduce((a, s) => a + s.probability, 0) / stage.sliceScores.length;
    assert.ok(Math.abs(sliceMean - stage.probability) < 1e-6);
    for (const k of stage.keyImages) {
      assert.ok(k.cam && k.region);
      assert.equal(k.cam.rows, SIZE);
      assert.equal(k.cam.data.length, SIZE * SIZE);
      assert.ok(Math.max(...k.cam.data) <= 1 + 1e-6 && Math.min(...k.cam.data) >= 0);
      assert.match(k.cam.method, /mean of 2 models' CAMs/);
    }
    assert.ok(stage.timings.totalMs! >= 0);
    assert.equal(stage.researchUseOnly, true);

    const dmfs = assessedOf(results, 'dmfs');
    assert.deepEqual(dmfs.inputs.images.map((i) => i.sopInstanceUid), ['1.2.3.100.1.4'], 'the largest-tumour slice only');
    assert.equal(dmfs.clinicalCovariatesUsed, false);
    assert.equal(dmfs.cutoff, 0.5);
    assert.match(dmfs.valueText, /image only/);
    assert.match(dmfs.notes!.join(' '), /not known: N stage, EBV-DNA, treatment regimen/);
    assert.equal(dmfs.group, dmfs.probability >= 0.5 ? 'high' : 'low');

    const msom = assessedOf(results, 'msom');
    assert.deepEqual(msom.models.map((m) => m.id), ['tiny-msom']);
    assert.equal(msom.clinicalCovariatesUsed, false);
    assert.equal(msom.group, msom.probability >= 0.5 ? 'high' : 'low');

    const residual = assessedOf(results, 'residual');
    const { ccrt, icCcrt } = residual.components as { ccrt: number; icCcrt: number };
    const expected = ccrt < 0.5 ? 'CCRT' : icCcrt < 0.5 ? 'IC+CCRT' : 'IBT';
    assert.equal(residual.value, expected);
    assert.equal(residual.models.length, 2);
  });

  it('combines DMFS with N stage, EBV-DNA and treatment, and fuses the clinical vector for MSOM, when they are known', async () => {
    const { results } = await runAnalyses(ctx({ clinical: FULL_CLINICAL }), ['dmfs', 'msom']);
    const dmfs = assessedOf(results, 'dmfs');
    assert.equal(dmfs.clinicalCovariatesUsed, true);
    assert.deepEqual(dmfs.clinicalVariables, ['nStage', 'ebvDnaCopiesPerMl', 'treatment']);
    assert.equal(dmfs.cutoff, 0.45);
    const sig = dmfs.components!.signature!;
    // intercept -2 + 3 * signature + 0.5 * 2 (N2) + 0.8 * 1 (EBV >= 4000) + -0.3 (IC+CCRT)
    assert.ok(Math.abs(dmfs.probability - 1 / (1 + Math.exp(-(-2 + 3 * sig + 1 + 0.8 - 0.3)))) < 1e-9);
    const msom = assessedOf(results, 'msom');
    assert.deepEqual(msom.models.map((m) => m.id), ['tiny-msom-fusion']);
    assert.equal(msom.clinicalCovariatesUsed, true);
    assert.equal(msom.clinicalVariables.length, 9);
    assert.match(msom.keyImages[0]!.cam!.method, /feature map "features" of tiny-msom-fusion/);
  });

  it('says which sequence is missing when a model needs it', async () => {
    const volumes = syntheticStudy('1.2.3.100', 11, ['ce-t1']);
    const { results } = await runAnalyses(ctx({ volumes }), ['stage', 'msom']);
    const stage = byId(results, 'stage');
    assert.equal(stage.assessable, false);
    assert.match(!stage.assessable ? stage.reason : '', /no t2 series \(model tiny-stage-b needs ce-t1 \+ t2\)/);
    assert.equal(byId(results, 'msom').assessable, true);
    const none = await runAnalyses(ctx({ volumes: syntheticStudy('1.2.3.100', 11, ['t2']) }), ['msom']);
    assert.match((none.results[0] as { reason: string }).reason, /no ce-t1 series \(the localiser needs it/);
  });

  it('reports progression as not assessable without the other study, and soft-votes pre and post when it is there', async () => {
    const without = await runAnalyses(ctx(), ['progression']);
    assert.match((without.results[0] as { reason: string }).reason, /cannot be looked up/);
    const queries: unknown[] = [];
    const priorStudies: PriorStudyProvider = {
      async findOtherStudy(q) {
        queries.push(q);
        return { studyInstanceUid: '1.2.3.200', studyDate: '20240601', volumes: syntheticStudy('1.2.3.200', 99), source: 'store' };
      },
    };
    const { results } = await runAnalyses(ctx({ priorStudies }), ['progression']);
    assert.deepEqual(queries, [{ patientId: 'P1', studyInstanceUid: '1.2.3.100', studyDate: '20240101' }]);
    const p = assessedOf(results, 'progression');
    const { pre, post } = p.components as { pre: number; post: number };
    assert.ok(Math.abs(p.probability - (pre + post) / 2) < 1e-9);
    assert.deepEqual(p.models.map((m) => m.id), ['tiny-progression-pre', 'tiny-progression-post']);
    // This study is the earlier one: the pre-model scored it, the post-model the other study.
    const studies = new Set(p.inputs.images.map((i) => i.studyInstanceUid));
    assert.deepEqual([...studies].sort(), ['1.2.3.100', '1.2.3.200']);
    const noDates = await runAnalyses(ctx({ priorStudies, studyDate: undefined }), ['progression']);
    assert.match((noDates.results[0] as { reason: string }).reason, /cannot tell which study is pre-treatment/);
  });

  it('names what is missing when the models dir lacks the models', async () => {
    const t = tempDir();
    copyFixtureModels(t.dir, ['tiny-localiser', 'tiny-stage-a', 'tiny-msom-fusion', 'tiny-residual-ccrt']);
    const few = await ModelRegistry.load({ dir: t.dir, executionProviders: ['cpu'], batchSize: 2 }, silentLogger());
    try {
      const { results } = await runAnalyses(ctx({ models: few }), ALL);
      const reasons = Object.fromEntries(results.map((r) => [r.analysis, r.assessable ? 'assessed' : r.reason]));
      assert.match(reasons.stage!, /at least 2 networks for soft voting; 1 loaded/);
      assert.equal(reasons.dmfs, 'no DMFS model loaded');
      assert.match(reasons.msom!, /needs clinical covariates \(not known: age, sex, .*\) and no image-only MSOM model is loaded/);
      assert.match(reasons.residual!, /no residual-tumour model loaded for IC \+ CCRT/);
      assert.match(reasons.progression!, /no pre-treatment and post-treatment progression model loaded/);
    } finally {
      await few.close();
      t.cleanup();
    }
  });
});
