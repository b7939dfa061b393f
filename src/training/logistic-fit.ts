/**
 * Logistic regression for the small patient-level models of the training recipe (image signatures, the
 * clinical combination): Newton-Raphson on z-scored features with a light ridge penalty, the scaling folded
 * back so the coefficients apply to the raw features. Also the patient split and cut-off rules shared with
 * models/training/train.py.
 */
import { createHash } from 'node:crypto';

export interface LogisticFit {
  intercept: number;
  /** One per feature, for the raw (unscaled) feature values. */
  coefficients: number[];
}

/** Validation = 20 % of patients by a hash of the PatientID (the same rule as train.py's is_validation). */
export function isValidationPatient(patientId: string, fraction = 0.2): boolean {
  const h = parseInt(createHash('sha256').update(patientId).digest('hex').slice(0, 8), 16);
  return h % 1000 < fraction * 1000;
}

export function predictLogistic(fit: LogisticFit, x: readonly number[]): number {
  let z = fit.intercept;
  x.forEach((v, i) => (z += fit.coefficients[i]! * v));
  return 1 / (1 + Math.exp(-z));
}

function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const d = m[c]![c]!;
    if (Math.abs(d) < 1e-12) throw new Error('logistic fit: singular system (a feature is constant or duplicated)');
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const row = m[r]!;
      const pivot = m[c]!;
      const f = row[c]! / d;
      for (let k = c; k <= n; k++) row[k] = row[k]! - f * pivot[k]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

/** Fits P(y = 1 | x); `ridge` penalises the z-scored coefficients (not the intercept). */
export function fitLogistic(x: readonly (readonly number[])[], y: readonly number[], ridge = 0.01, iterations = 50): LogisticFit {
  const n = x.length;
  if (!n || n !== y.length) throw new Error(`logistic fit: ${n} rows for ${y.length} labels`);
  const p = x[0]!.length;
  const mean = Array.from({ length: p }, (_, j) => x.reduce((s, r) => s + r[j]!, 0) / n);
  const sd = mean.map((m, j) => Math.sqrt(x.reduce((s, r) => s + (r[j]! - m) ** 2, 0) / n) || 1);
  const z = x.map((r) => [1, ...r.map((v, j) => (v - mean[j]!) / sd[j]!)]);
  let w = new Array(p + 1).fill(0) as number[];
  for (let it = 0; it < iterations; it++) {
    const h = Array.from({ length: p + 1 }, () => new Array(p + 1).fill(0) as number[]);
    const g = new Array(p + 1).fill(0) as number[];
    z.forEach((row, i) => {
      const eta = row.reduce((s, v, j) => s + v * w[j]!, 0);
      const mu = 1 / (1 + Math.exp(-eta));
      const wt = Math.max(mu * (1 - mu), 1e-9);
      for (let a = 0; a <= p; a++) {
        g[a] = g[a]! + row[a]! * (mu - y[i]!);
        const ha = h[a]!;
        for (let b = 0; b <= p; b++) ha[b] = ha[b]! + wt * row[a]! * row[b]!;
      }
    });
    for (let a = 1; a <= p; a++) {
      g[a] = g[a]! + ridge * n * w[a]!;
      h[a]![a] = h[a]![a]! + ridge * n;
    }
    const step = solve(h, g);
    w = w.map((v, j) => v - step[j]!);
    if (Math.max(...step.map(Math.abs)) < 1e-8) break;
  }
  const coefficients = w.slice(1).map((v, j) => v / sd[j]!);
  const intercept = w[0]! - coefficients.reduce((s, c, j) => s + c * mean[j]!, 0);
  return { intercept, coefficients };
}

/** ROC-optimal (Youden's J) threshold: the score value at which sensitivity + specificity is largest. */
export function youdenCutoff(scores: readonly number[], labels: readonly number[]): number {
  let best = 0.5;
  let bestJ = -Infinity;
  const pos = labels.filter((l) => l === 1).length;
  const neg = labels.length - pos;
  for (const t of [...new Set(scores)].sort((a, b) => a - b)) {
    let tp = 0;
    let tn = 0;
    scores.forEach((s, i) => {
      if (s >= t && labels[i] === 1) tp++;
      if (s < t && labels[i] === 0) tn++;
    });
    const j = tp / Math.max(pos, 1) + tn / Math.max(neg, 1) - 1;
    if (j > bestJ) {
      bestJ = j;
      best = t;
    }
  }
  return best;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
