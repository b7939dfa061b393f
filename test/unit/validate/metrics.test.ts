import assert from 'node:assert/strict';
import { aucWithCi, calibrationBins, concordanceIndex, confusionAt, erfc, kaplanMeier, logRank, rocCurve } from '../../../src/validate/metrics';

describe('validation metrics', () => {
  it('computes AUC 1 for a perfect ranking, 0.5 for ties, and a known value with DeLong CI', () => {
    assert.equal(aucWithCi([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]).auc, 1);
    assert.equal(aucWithCi([0.5, 0.5, 0.5, 0.5], [1, 1, 0, 0]).auc, 0.5);
    // 3 positives, 3 negatives, one discordant pair of 9 -> 8/9
    const r = aucWithCi([0.9, 0.7, 0.4, 0.5, 0.3, 0.1], [1, 1, 1, 0, 0, 0]);
    assert.ok(Math.abs(r.auc - 8 / 9) < 1e-12);
    assert.ok(r.lower < r.auc && r.upper <= 1 && r.se > 0);
  });

  it('builds a ROC curve from (0,0) to (1,1) that is monotone', () => {
    const pts = rocCurve([0.9, 0.7, 0.4, 0.5, 0.3, 0.1], [1, 1, 1, 0, 0, 0]);
    assert.deepEqual(pts[0], { threshold: Infinity, fpr: 0, tpr: 0 });
    assert.deepEqual([pts.at(-1)!.fpr, pts.at(-1)!.tpr], [1, 1]);
    for (let i = 1; i < pts.length; i++) assert.ok(pts[i]!.fpr >= pts[i - 1]!.fpr && pts[i]!.tpr >= pts[i - 1]!.tpr);
  });

  it('counts the confusion matrix at a cut-off (score >= cut-off is positive)', () => {
    const c = confusionAt([0.9, 0.6, 0.6, 0.2], [1, 0, 1, 0], 0.6);
    assert.deepEqual([c.tp, c.fp, c.tn, c.fn], [2, 1, 1, 0]);
    assert.equal(c.sensitivity, 1);
    assert.equal(c.specificity, 0.5);
  });

  it("computes Harrell's C-index", () => {
    assert.equal(concordanceIndex([3, 2, 1], [1, 2, 3], [1, 1, 1]), 1);
    assert.equal(concordanceIndex([1, 2, 3], [1, 2, 3], [1, 1, 1]), 0);
    // censored earliest subject contributes no pairs as the earlier one
    assert.equal(concordanceIndex([3, 2, 1], [1, 2, 3], [0, 1, 1]), 1);
  });

  it('matches a hand-computed Kaplan-Meier curve', () => {
    // times 1,2,2(c),3,4 ; events at 1,2,3,4
    const km = kaplanMeier([1, 2, 2, 3, 4], [1, 1, 0, 1, 1]);
    const s = km.map((k) => +k.survival.toFixed(4));
    assert.deepEqual(s, [1, 0.8, 0.6, 0.3, 0]);
  });

  it('gives a small log-rank p for well separated groups and p = 1 for identical ones', () => {
    const t = [1, 2, 3, 4, 5, 20, 21, 22, 23, 24];
    const e = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    const g = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
    assert.ok(logRank(t, e, g).p < 0.01);
    assert.ok(Math.abs(logRank([1, 2, 1, 2], [1, 1, 1, 1], [0, 0, 1, 1]).p - 1) < 1e-6);
    assert.ok(Math.abs(erfc(0) - 1) < 1e-7 && Math.abs(erfc(1.959964 / Math.SQRT2) - 0.05) < 1e-5);
  });

  it('bins predictions for calibration', () => {
    const b = calibrationBins([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 2);
    assert.deepEqual(b.map((x) => [+x.meanPredicted.toFixed(2), x.observedRate, x.count]), [[0.15, 0, 2], [0.85, 1, 2]]);
  });
});
