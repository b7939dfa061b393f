import assert from 'node:assert/strict';
import {
  groupByCutoff,
  logisticCombination,
  logit,
  mean,
  recommendTreatment,
  sigmoid,
  softVote,
  softVoteBinary,
  weightedMean,
} from '../../../src/analyses/aggregation';
import { aggregate, positiveProbability, selectSlices } from '../../../src/analyses/model-scoring';
import { orderStudies } from '../../../src/analyses/progression';
import { encodeClinical } from '../../../src/analyses/clinical-covariates';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

describe('aggregation rules', () => {
  it('averages slice probabilities and weights them by tumour area', () => {
    close(mean([0.2, 0.4, 0.9]), 0.5);
    close(weightedMean([0.2, 0.8], [1, 3]), 0.65);
    close(weightedMean([0.2, 0.8], [0, 0]), 0.5);
    assert.throws(() => mean([]), /no values/);
    assert.throws(() => weightedMean([0.1], [-1]), /weights/);
  });

  it('soft voting averages class-probability vectors then takes the argmax (ties to the negative class)', () => {
    const v = softVote([
      [0.7, 0.3],
      [0.2, 0.8],
      [0.4, 0.6],
    ]);
    close(v.probabilities[1]!, (0.3 + 0.8 + 0.6) / 3);
    assert.equal(v.winner, 1);
    assert.equal(softVote([[0.5, 0.5]]).winner, 0);
    close(softVoteBinary([0.3, 0.8]), 0.55);
    assert.throws(() => softVote([[0.5, 0.5], [1]]), /different numbers of classes/);
  });

  it('combines the image signature with clinical values by logistic regression', () => {
    const p = logisticCombination(0.6, [2, 1, 0, 1, 0], { intercept: -2, imageCoefficient: 3, imageTransform: 'identity', coefficients: [0.5, 0.8, 0, -0.3, -0.2] });
    close(p, sigmoid(-2 + 1.8 + 1 + 0.8 - 0.3));
    const q = logisticCombination(0.6, [], { intercept: 0, imageCoefficient: 1, imageTransform: 'logit', coefficients: [] });
    close(q, 0.6, 1e-6);
    close(logit(0.5), 0);
    assert.throws(() => logisticCombination(0.5, [1], { intercept: 0, imageCoefficient: 1, imageTransform: 'identity', coefficients: [] }), /1 values for 0/);
  });

  it('puts a score at the cut-off in the high-risk group', () => {
    assert.equal(groupByCutoff(0.5, 0.5), 'high');
    assert.equal(groupByCutoff(0.4999, 0.5), 'low');
  });

  it('recommends treatment by paper 002 rule', () => {
    assert.equal(recommendTreatment(false, false), 'CCRT');
    assert.equal(recommendTreatment(false, true), 'CCRT');
    assert.equal(recommendTreatment(true, false), 'IC+CCRT');
    assert.equal(recommendTreatment(true, true), 'IBT');
  });

  it('selects slices: all, tumour slices, the largest tumour, the top k by area in slice order', () => {
    const c = [0, 5, 20, 0, 12, 7].map((areaPx, i) => ({ i, areaPx }));
    assert.equal(selectSlices(c, { mode: 'all' }).length, 6);
    assert.deepEqual(selectSlices(c, { mode: 'tumour-slices', region: 'gtv' }).map((x) => x.i), [1, 2, 4, 5]);
    assert.deepEqual(selectSlices(c, { mode: 'largest-tumour', region: 'gtv' }).map((x) => x.i), [2]);
    assert.deepEqual(selectSlices(c, { mode: 'top-k', k: 2, region: 'gtv' }).map((x) => x.i), [2, 4]);
    assert.deepEqual(selectSlices([{ areaPx: 0 }], { mode: 'largest-tumour', region: 'gtv' }), []);
  });

  it('aggregates per manifest and refuses "single" over several slices', () => {
    close(aggregate('mean', [0.2, 0.6], [1, 3]), 0.4);
    close(aggregate('weighted-mean-by-area', [0.2, 0.6], [1, 3]), 0.5);
    close(aggregate('single', [0.7], [1]), 0.7);
    assert.throws(() => aggregate('single', [0.7, 0.1], [1, 1]), /one slice/);
  });

  it('reads the positive-class probability from sigmoid, softmax and logits outputs', () => {
    close(positiveProbability({ data: Float32Array.of(0.25, 0.75), dims: [2, 1] }, 1, 'probability'), 0.75);
    close(positiveProbability({ data: Float32Array.of(0.1, 0.9, 0.6, 0.4), dims: [2, 2] }, 1, 'probability'), 0.4, 1e-6);
    close(positiveProbability({ data: Float32Array.of(0, 0), dims: [1, 2] }, 0, 'logits'), 0.5);
    close(positiveProbability({ data: Float32Array.of(0), dims: [1, 1] }, 0, 'logits'), 0.5);
  });

  it('tells pre- from post-treatment study by study date', () => {
    assert.equal(orderStudies('20240101', '20240601'), 'current-is-pre');
    assert.equal(orderStudies('20240601', '20240101'), 'current-is-post');
    assert.equal(orderStudies('20240101', '20240101'), undefined);
    assert.equal(orderStudies(undefined, '20240101'), undefined);
  });

  it('encodes clinical covariates and names what is missing or outside the categories', () => {
    const enc = [
      { variable: 'nStage' as const, kind: 'ordinal' as const, levels: ['N0', 'N1', 'N2', 'N3'] },
      { variable: 'ebvDnaCopiesPerMl' as const, kind: 'threshold' as const, threshold: 4000 },
      { variable: 'treatment' as const, kind: 'one-hot' as const, categories: ['CCRT', 'IC+CCRT', 'CCRT+AC'] },
      { variable: 'age' as const, kind: 'standardise' as const, mean: 50, std: 10 },
    ];
    assert.deepEqual(encodeClinical({ nStage: 'N2', ebvDnaCopiesPerMl: 4000, treatment: 'IC+CCRT', age: 65 }, enc), {
      ok: true,
      vector: [2, 1, 0, 1, 0, 1.5],
      variables: ['nStage', 'ebvDnaCopiesPerMl', 'treatment', 'age'],
    });
    const r = encodeClinical({ nStage: 'N1', treatment: 'RT' }, enc);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.deepEqual(r.missing, ['ebvDnaCopiesPerMl', 'age']);
      assert.match(r.unencodable[0]!, /treatment RT is not among the model's categories/);
    }
  });
});
