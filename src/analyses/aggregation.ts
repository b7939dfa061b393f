/**
 * Pure rules that turn slice- and model-level outputs into one patient answer, as the papers define them:
 * means over slices (001, 002, 004), the largest-tumour slice (003), soft voting across networks (000, 001),
 * logistic combination with clinical covariates (003), cut-off to risk group, and paper 002's
 * treatment recommendation from the two residual-tumour models.
 */

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error('mean of no values');
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Weighted mean (e.g. by tumour area); falls back to the plain mean when every weight is 0. */
export function weightedMean(values: readonly number[], weights: readonly number[]): number {
  if (values.length === 0) throw new Error('weighted mean of no values');
  if (values.length !== weights.length) throw new Error('weighted mean: values and weights differ in length');
  if (weights.some((w) => w < 0 || !Number.isFinite(w))) throw new Error('weighted mean: weights must be finite and >= 0');
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 0) return mean(values);
  return values.reduce((acc, v, i) => acc + v * weights[i]!, 0) / total;
}

/**
 * Soft voting: the mean of the networks' class-probability vectors, then argmax. Returns the mean vector and
 * the winning class index (ties go to the lower index, i.e. the negative class for [negative, positive]).
 */
export function softVote(probabilityVectors: readonly (readonly number[])[]): { probabilities: number[]; winner: number } {
  if (probabilityVectors.length === 0) throw new Error('soft vote of no networks');
  const k = probabilityVectors[0]!.length;
  if (probabilityVectors.some((v) => v.length !== k)) throw new Error('soft vote: networks give different numbers of classes');
  const probabilities = Array.from({ length: k }, (_, c) => mean(probabilityVectors.map((v) => v[c]!)));
  let winner = 0;
  for (let c = 1; c < k; c++) if (probabilities[c]! > probabilities[winner]!) winner = c;
  return { probabilities, winner };
}

/** Soft vote of binary networks given as positive-class probabilities; returns the voted positive probability. */
export function softVoteBinary(positiveProbabilities: readonly number[]): number {
  return softVote(positiveProbabilities.map((p) => [1 - p, p])).probabilities[1]!;
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function logit(p: number): number {
  const q = Math.min(1 - 1e-7, Math.max(1e-7, p));
  return Math.log(q / (1 - q));
}

/** Logistic regression: sigmoid(intercept + imageCoefficient * f(image) + sum_i coefficients[i] * x[i]). */
export function logisticCombination(
  imageScore: number,
  clinical: readonly number[],
  model: { intercept: number; imageCoefficient: number; imageTransform: 'identity' | 'logit'; coefficients: readonly number[] },
): number {
  if (clinical.length !== model.coefficients.length) throw new Error(`logistic combination: ${clinical.length} values for ${model.coefficients.length} coefficients`);
  const img = model.imageTransform === 'logit' ? logit(imageScore) : imageScore;
  let z = model.intercept + model.imageCoefficient * img;
  clinical.forEach((x, i) => (z += model.coefficients[i]! * x));
  return sigmoid(z);
}

/** High risk (positive class) when the score is at or above the cut-off (paper 004: ">= the best cut-off"). */
export function groupByCutoff(score: number, cutoff: number): 'high' | 'low' {
  return score >= cutoff ? 'high' : 'low';
}

export type Recommendation = 'CCRT' | 'IC+CCRT' | 'IBT';

/**
 * Paper 002's rule from the two models' predictions of residual tumour:
 * none after CCRT -> CCRT (whatever IC + CCRT predicts); residual after CCRT but none after IC + CCRT -> IC+CCRT;
 * residual after both -> IBT (individual-based intensified treatment).
 */
export function recommendTreatment(residualAfterCcrt: boolean, residualAfterIcCcrt: boolean): Recommendation {
  if (!residualAfterCcrt) return 'CCRT';
  if (!residualAfterIcCcrt) return 'IC+CCRT';
  return 'IBT';
}
