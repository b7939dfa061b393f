/**
 * The validation report: for each analysis, the figures the papers report (ROC with AUC and 95 % CI,
 * confusion matrix at the model's cut-off, C-index and Kaplan-Meier curves per risk group with the
 * log-rank p for time-to-event labels, calibration), written as an HTML page with PNG plots.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { aucWithCi, calibrationBins, concordanceIndex, confusionAt, kaplanMeier, logRank, rocCurve } from './metrics';
import { chartSvg, confusionSvg, svgToPng } from './svg-chart';

export interface AnalysisOutcomes {
  id: string;
  title: string;
  /** Positive / negative class names, e.g. ["IVa", "III"] or ["high risk", "low risk"]. */
  classNames: [string, string];
  patientIds: string[];
  /** Patient-level score (probability of the positive class). */
  scores: number[];
  /** Ground truth 1 = positive. */
  labels: number[];
  cutoff: number;
  /** Model identities (name version) shown in the report. */
  models: string[];
  /** Survival data (DMFS etc.) for C-index and Kaplan-Meier. */
  survival?: { label: string; time: number[]; event: number[] };
  /** Patients the analysis could not assess, with reasons. */
  notAssessable: { patientId: string; reason: string }[];
  /** The paper's reported figure, for comparison. */
  reported?: string;
}

export interface AnalysisSummary {
  id: string;
  title: string;
  n: number;
  auc: number;
  aucLower: number;
  aucUpper: number;
  cutoff: number;
  sensitivity: number;
  specificity: number;
  accuracy: number;
  cIndex?: number;
  logRankP?: number;
  notAssessable: number;
  figures: string[];
}

const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(1) + '%' : 'n/a');
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

export async function summariseAnalysis(a: AnalysisOutcomes, outDir: string): Promise<AnalysisSummary> {
  mkdirSync(outDir, { recursive: true });
  const figures: string[] = [];
  const save = async (name: string, svg: string) => {
    writeFileSync(path.join(outDir, name), await svgToPng(svg));
    figures.push(name);
  };
  const ci = aucWithCi(a.scores, a.labels);
  const roc = rocCurve(a.scores, a.labels);
  const cm = confusionAt(a.scores, a.labels, a.cutoff);
  const cutPoint = { fpr: 1 - cm.specificity, tpr: cm.sensitivity };
  await save(
    `${a.id}-roc.png`,
    chartSvg({
      title: `${a.title}: ROC (n = ${a.scores.length})`,
      xLabel: '1 - specificity',
      yLabel: 'sensitivity',
      xRange: [0, 1],
      yRange: [0, 1],
      series: [
        { label: `AUC ${f3(ci.auc)}`, color: '#c0392b', points: roc.map((p) => [p.fpr, p.tpr]) },
        { label: 'chance', color: '#999999', dashed: true, points: [[0, 0], [1, 1]] },
        { label: `cut-off ${f3(a.cutoff)}`, color: '#1f4e9c', markers: true, points: [[cutPoint.fpr, cutPoint.tpr]] },
      ],
      notes: [`AUC ${f3(ci.auc)} (95% CI ${f3(ci.lower)}-${f3(ci.upper)}, DeLong)`],
    }),
  );
  await save(`${a.id}-confusion.png`, confusionSvg(`${a.title}: cut-off ${f3(a.cutoff)}`, cm, [a.classNames[1], a.classNames[0]]));
  const cal = calibrationBins(a.scores, a.labels, 5);
  await save(
    `${a.id}-calibration.png`,
    chartSvg({
      title: `${a.title}: calibration`,
      xLabel: 'mean predicted probability',
      yLabel: 'observed rate',
      xRange: [0, 1],
      yRange: [0, 1],
      series: [
        { label: 'quintiles', color: '#c0392b', markers: true, points: cal.map((b) => [b.meanPredicted, b.observedRate]) },
        { label: 'ideal', color: '#999999', dashed: true, points: [[0, 0], [1, 1]] },
      ],
    }),
  );
  let cIndex: number | undefined;
  let logRankP: number | undefined;
  if (a.survival) {
    const { time, event } = a.survival;
    cIndex = concordanceIndex(a.scores, time, event);
    const group = a.scores.map((s) => (s >= a.cutoff ? 1 : 0));
    logRankP = logRank(time, event, group).p;
    const pick = (g: number) => kaplanMeier(time.filter((_, i) => group[i] === g), event.filter((_, i) => group[i] === g));
    const hi = pick(1);
    const lo = pick(0);
    const tMax = Math.max(...time, 1);
    const ext = (k: ReturnType<typeof kaplanMeier>): [number, number][] => [...k.map((s) => [s.time, s.survival] as [number, number]), [tMax, k.at(-1)!.survival]];
    await save(
      `${a.id}-km.png`,
      chartSvg({
        title: `${a.title}: Kaplan-Meier by risk group`,
        xLabel: 'months',
        yLabel: a.survival.label,
        xRange: [0, tMax],
        yRange: [0, 1],
        series: [
          { label: `high risk (n=${group.filter((g) => g === 1).length})`, color: '#c0392b', step: true, points: ext(hi) },
          { label: `low risk (n=${group.filter((g) => g === 0).length})`, color: '#1f4e9c', step: true, points: ext(lo) },
        ],
        notes: [`log-rank p = ${logRankP < 0.001 ? '< 0.001' : logRankP.toFixed(3)}`, `C-index ${f3(cIndex)}`],
      }),
    );
  }
  return {
    id: a.id,
    title: a.title,
    n: a.scores.length,
    auc: ci.auc,
    aucLower: ci.lower,
    aucUpper: ci.upper,
    cutoff: a.cutoff,
    sensitivity: cm.sensitivity,
    specificity: cm.specificity,
    accuracy: cm.accuracy,
    cIndex,
    logRankP,
    notAssessable: a.notAssessable.length,
    figures,
  };
}

export async function writeValidationReport(
  outDir: string,
  analyses: AnalysisOutcomes[],
  context: { cohort: string; generatedAt: string; node: string; notes?: string[] },
): Promise<{ html: string; summaries: AnalysisSummary[] }> {
  mkdirSync(outDir, { recursive: true });
  const summaries: AnalysisSummary[] = [];
  for (const a of analyses) summaries.push(await summariseAnalysis(a, outDir));
  const rows = summaries
    .map(
      (s) => `<tr><td>${s.title}</td><td>${s.n}</td><td><b>${f3(s.auc)}</b> (${f3(s.aucLower)}-${f3(s.aucUpper)})</td><td>${f3(s.cutoff)}</td><td>${pct(s.sensitivity)}</td><td>${pct(s.specificity)}</td><td>${pct(s.accuracy)}</td><td>${s.cIndex === undefined ? '' : f3(s.cIndex)}</td><td>${s.logRankP === undefined ? '' : s.logRankP < 0.001 ? '&lt; 0.001' : s.logRankP.toFixed(3)}</td><td>${s.notAssessable}</td></tr>`,
    )
    .join('\n');
  const sections = analyses
    .map((a, i) => {
      const s = summaries[i]!;
      return `<section><h2>${a.title}</h2><p>Models: ${a.models.join(', ') || 'n/a'}.${a.reported ? ` Paper reported: ${a.reported}.` : ''}</p>
${s.figures.map((f) => `<img src="${f}" alt="${f}" width="420">`).join('\n')}
${a.notAssessable.length ? `<p>Not assessable: ${a.notAssessable.length} (${[...new Set(a.notAssessable.map((n) => n.reason))].join('; ')})</p>` : ''}</section>`;
    })
    .join('\n');
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Validation report</title>
<style>body{font-family:sans-serif;max-width:1320px;margin:24px auto;color:#222}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}img{margin:4px;border:1px solid #ddd}.warn{background:#fff4d6;padding:8px;border:1px solid #e0c060}</style></head>
<body><h1>Validation report</h1>
<p class="warn">Research use only. These figures describe the models on the cohort below; they do not establish clinical validity.</p>
<p>Cohort: ${context.cohort}. Generated ${context.generatedAt} by ${context.node}. Each patient went through the whole node pipeline from DICOM files (series selection, preparation, localisation, inference, aggregation).</p>
${(context.notes ?? []).map((n) => `<p>${n}</p>`).join('\n')}
<table><tr><th>analysis</th><th>n</th><th>AUC (95% CI)</th><th>cut-off</th><th>sensitivity</th><th>specificity</th><th>accuracy</th><th>C-index</th><th>log-rank p</th><th>not assessable</th></tr>
${rows}</table>
${sections}
</body></html>`;
  writeFileSync(path.join(outDir, 'index.html'), html);
  writeFileSync(path.join(outDir, 'summary.json'), JSON.stringify({ context, summaries }, null, 2));
  return { html, summaries };
}
