/**
 * Statistics the papers report, for the validation report: ROC/AUC with a DeLong 95 % CI, confusion
 * matrix at a cut-off, Harrell's C-index, Kaplan-Meier curves, the log-rank test, calibration bins.
 * Pure functions on plain arrays; no dependencies.
 */

export interface RocPoint {
  threshold: number;
  fpr: number;
  tpr: number;
}

/** ROC curve points from highest to lowest threshold (starts at (0,0), ends at (1,1)). */
export function rocCurve(scores: number[], labels: number[]): RocPoint[] {
  const pairs = scores.map((s, i) => ({ s, y: labels[i]! })).sort((a, b) => b.s - a.s);
  const P = pairs.filter((p) => p.y === 1).length;
  const N = pairs.length - P;
  const pts: RocPoint[] = [{ threshold: Infinity, fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < pairs.length; i++) {
    if (pairs[i]!.y === 1) tp++;
    else fp++;
    if (i === pairs.length - 1 || pairs[i + 1]!.s !== pairs[i]!.s) {
      pts.push({ threshold: pairs[i]!.s, fpr: N ? fp / N : 0, tpr: P ? tp / P : 0 });
    }
  }
  return pts;
}

/** Area under the ROC curve (Mann-Whitney, ties count one half) with the DeLong 95 % confidence interval. */
export function aucWithCi(scores: number[], labels: number[]): { auc: number; lower: number; upper: number; se: number } {
  const pos = scores.filter((_, i) => labels[i] === 1);
  const neg = scores.filter((_, i) => labels[i] === 0);
  const m = pos.length;
  const n = neg.length;
  if (!m || !n) return { auc: NaN, lower: NaN, upper: NaN, se: NaN };
  const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0);
  const v10 = pos.map((x) => neg.reduce((a, y) => a + psi(x, y), 0) / n);
  const v01 = neg.map((y) => pos.reduce((a, x) => a + psi(x, y), 0) / m);
  const auc = v10.reduce((a, b) => a + b, 0) / m;
  const variance = (v: number[]) => (v.length > 1 ? v.reduce((a, b) => a + (b - auc) ** 2, 0) / (v.length - 1) : 0);
  const se = Math.sqrt(variance(v10) / m + variance(v01) / n);
  return { auc, se, lower: Math.max(0, auc - 1.959964 * se), upper: Math.min(1, auc + 1.959964 * se) };
}

export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  sensitivity: number;
  specificity: number;
  accuracy: number;
  ppv: number;
  npv: number;
}

/** Confusion matrix with positives predicted where score >= cutoff. */
export function confusionAt(scores: number[], labels: number[], cutoff: number): Confusion {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  scores.forEach((s, i) => {
    const pred = s >= cutoff;
    if (labels[i] === 1) pred ? tp++ : fn++;
    else pred ? fp++ : tn++;
  });
  const d = (a: number, b: number) => (b ? a / b : NaN);
  return { tp, fp, tn, fn, sensitivity: d(tp, tp + fn), specificity: d(tn, tn + fp), accuracy: d(tp + tn, tp + tn + fp + fn), ppv: d(tp, tp + fp), npv: d(tn, tn + fn) };
}

/** Harrell's C-index: higher risk should mean a shorter time to event. */
export function concordanceIndex(risk: number[], time: number[], event: number[]): number {
  let conc = 0;
  let pairs = 0;
  for (let i = 0; i < risk.length; i++) {
    if (!event[i]) continue;
    for (let j = 0; j < risk.length; j++) {
      if (i === j || !(time[i]! < time[j]!)) continue;
      pairs++;
      if (risk[i]! > risk[j]!) conc += 1;
      else if (risk[i] === risk[j]) conc += 0.5;
    }
  }
  return pairs ? conc / pairs : NaN;
}

export interface KmStep {
  time: number;
  survival: number;
  atRisk: number;
  events: number;
}

/** Kaplan-Meier estimate: a step at every distinct event time, starting at (0, 1). */
export function kaplanMeier(time: number[], event: number[]): KmStep[] {
  const idx = time.map((_, i) => i).sort((a, b) => time[a]! - time[b]!);
  const steps: KmStep[] = [{ time: 0, survival: 1, atRisk: time.length, events: 0 }];
  let s = 1;
  let atRisk = time.length;
  let k = 0;
  while (k < idx.length) {
    const t = time[idx[k]!]!;
    let d = 0;
    let c = 0;
    while (k < idx.length && time[idx[k]!] === t) {
      if (event[idx[k]!]) d++;
      else c++;
      k++;
    }
    if (d > 0) {
      s *= 1 - d / atRisk;
      steps.push({ time: t, survival: s, atRisk, events: d });
    }
    atRisk -= d + c;
  }
  return steps;
}

/** Two-group log-rank test; returns the chi-square statistic (1 df) and its p-value. */
export function logRank(time: number[], event: number[], group: number[]): { chi2: number; p: number } {
  const times = [...new Set(time.filter((_, i) => event[i]))].sort((a, b) => a - b);
  let o1 = 0, e1 = 0, v = 0;
  for (const t of times) {
    let n = 0, n1 = 0, d = 0, d1 = 0;
    time.forEach((ti, i) => {
      if (ti >= t) {
        n++;
        if (group[i] === 1) n1++;
      }
      if (ti === t && event[i]) {
        d++;
        if (group[i] === 1) d1++;
      }
    });
    if (n < 2) continue;
    o1 += d1;
    e1 += (d * n1) / n;
    v += (d * (n1 / n) * (1 - n1 / n) * (n - d)) / (n - 1);
  }
  const chi2 = v > 0 ? (o1 - e1) ** 2 / v : 0;
  return { chi2, p: erfc(Math.sqrt(chi2 / 2)) };
}

/** Complementary error function (Numerical Recipes erfcc, relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

export interface CalibrationBin {
  meanPredicted: number;
  observedRate: number;
  count: number;
}

/** Calibration: patients in `bins` quantile groups of predicted probability; mean predicted vs observed rate. */
export function calibrationBins(prob: number[], labels: number[], bins = 5): CalibrationBin[] {
  const idx = prob.map((_, i) => i).sort((a, b) => prob[a]! - prob[b]!);
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const part = idx.slice(Math.floor((b * idx.length) / bins), Math.floor(((b + 1) * idx.length) / bins));
    if (!part.length) continue;
    out.push({
      meanPredicted: part.reduce((a, i) => a + prob[i]!, 0) / part.length,
      observedRate: part.reduce((a, i) => a + labels[i]!, 0) / part.length,
      count: part.length,
    });
  }
  return out;
}
