import assert from 'node:assert/strict';
import { fitSignature, type PatientRow } from '../../../src/training/fit-signatures';
import type { RecipeModel } from '../../../src/training/recipe';
import type { ClinicalEncoding } from '../../../src/infer/manifest';
import { fitLogistic, isValidationPatient, median, predictLogistic, youdenCutoff } from '../../../src/training/logistic-fit';

describe('logistic fit for signatures', () => {
  it('recovers the coefficients of a known logistic model on raw (unscaled) features', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 6000; i++) {
      const a = rand() * 4 - 2;
      const b = 50 + rand() * 100; // a feature on another scale
      const p = 1 / (1 + Math.exp(-(-3 + 1.5 * a + 0.03 * b)));
      x.push([a, b]);
      y.push(rand() < p ? 1 : 0);
    }
    const fit = fitLogistic(x, y, 0);
    assert.ok(Math.abs(fit.coefficients[0]! - 1.5) < 0.15, `a: ${fit.coefficients[0]}`);
    assert.ok(Math.abs(fit.coefficients[1]! - 0.03) < 0.006, `b: ${fit.coefficients[1]}`);
    assert.ok(Math.abs(fit.intercept + 3) < 0.6, `intercept: ${fit.intercept}`);
    assert.ok(Math.abs(predictLogistic(fit, [0, 100]) - 0.5) < 0.05);
  });

  it('refuses a constant feature with a message, and mismatched rows', () => {
    assert.throws(() => fitLogistic([[1, 2], [1, 2], [1, 2]], [0, 1, 0], 0), /singular/);
    assert.throws(() => fitLogistic([[1]], [0, 1]), /1 rows for 2 labels/);
  });

  it('splits patients as train.py does (sha256 of the PatientID), and picks cut-offs', () => {
    // values from Python: int(hashlib.sha256(pid.encode()).hexdigest()[:8], 16) % 1000 < 200
    assert.equal(isValidationPatient('SYN0001'), false);
    assert.equal(isValidationPatient('SYN0018'), true);
    assert.equal(isValidationPatient('SYN0031'), true);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    assert.equal(youdenCutoff([0.1, 0.2, 0.6, 0.7], [0, 0, 1, 1]), 0.6);
  });
});

describe('fitting an image signature', () => {
  // Rows as collectPatientRows gives them: the label depends on the tumour volume, the networks' vote is noise.
  const rows = Array.from({ length: 200 }, (_, i) => {
    const volume = 2 + ((i * 37) % 100) / 2;
    const high = volume > 20 ? 1 : 0;
    const vote = 0.3 + ((i * 13) % 40) / 100;
    const entry = { PatientID: `P${i}`, dmfs: { highRisk: high === 1 }, clinical: { nStage: 2, ebvDna: 4000, treatment: 'CCRT', age: 50, sex: 'M', clinicalStage: 'III', pni: 50, haemoglobin: 130, dose: 70, cisplatin: 200, cycles: 2 } };
    return {
      patientId: `P${i}`,
      validation: i % 5 === 0,
      measures: { gtvVolumeMl: volume, gtvlnVolumeMl: 1, gtvAboveLargestMm: 0, gtvBelowLargestMm: 0, gtvlnLowestBelowLargestMm: 0, largestNodeDiameterMm: 0 },
      votes: { 'dmfs:networksVote': vote },
      votesWithClinical: {},
      entry,
    } as unknown as PatientRow;
  });
  const model = {
    id: 'npc-dmfs', task: 'dmfs', label: 'dmfsHigh', cutoff: 'median-train',
    signature: { measures: [{ measure: 'gtvVolumeMl', transform: 'log1p' }] },
    clinical: { use: 'logistic', encoding: [{ variable: 'ebvDnaCopiesPerMl', kind: 'standardise', mean: 1000, std: 2000 }] },
  } as unknown as RecipeModel;

  it('learns the measure the label depends on, with the recipe cut-off rule, and refits the clinical combination', () => {
    const f = fitSignature(model, rows, { fusion: false, clinicalEncoding: (model.clinical as { encoding: ClinicalEncoding[] }).encoding });
    assert.ok(f.signature.measures[0]!.coefficient > 1, `volume coefficient ${f.signature.measures[0]!.coefficient}`);
    assert.ok(f.metrics.signatureValidationAuc! > 0.95, `signature AUC ${f.metrics.signatureValidationAuc}`);
    assert.ok(f.metrics.networksValidationAuc! < 0.8, `vote AUC ${f.metrics.networksValidationAuc}`);
    assert.match(f.cutoff.method, /median/);
    assert.equal(f.clinicalLogistic?.coefficients.length, 1);
    assert.match(f.clinicalLogistic!.cutoff.method, /median combined risk/);
  });

  it('refuses a model without a signature in the recipe', () => {
    assert.throws(() => fitSignature({ ...model, signature: undefined } as RecipeModel, rows, { fusion: false }), /no signature in the recipe/);
  });
});
