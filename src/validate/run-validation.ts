/**
 * The validation run: every patient of a labelled cohort goes through the node's whole analysis path from
 * DICOM files (the store's header reader and checks, rule-based series selection, volumes, localiser,
 * every analysis with the loaded models), and the patient-level answers are held against the labels in a
 * report with the figures the papers report. A site runs it on its own cohort and its own models.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema';
import type { ModelRegistry } from '../infer/model-registry';
import type { AnalysisResult, AssessedResult } from '../analyses/types';
import type { ClinicalCovariates } from '../analyses/clinical-covariates';
import { WorkerPool } from '../prepare';
import type { CohortLabelEntry } from '../synth/cohort';
import { cohortCovariates } from '../training/cohort-labels';
import { analyseStudy } from '../pipeline/analyse-study';
import { cohortStudyInstances, folderPriorStudy } from '../training/analyse-cohort-study';
import { writeValidationReport, type AnalysisOutcomes, type AnalysisSummary } from './report';

export interface ValidationOptions {
  cohortDir: string;
  labelsFile: string;
  outDir: string;
  /** Combine clinical covariates from the labels where a model can (DMFS logistic, MSOM fusion). */
  withClinical: boolean;
  limit?: number;
  onProgress?: (done: number, total: number, patientId: string, results: AnalysisResult[]) => void;
}

interface PatientOutcome {
  entry: CohortLabelEntry;
  results: AnalysisResult[];
}

export async function runValidation(config: Config, models: ModelRegistry, opts: ValidationOptions): Promise<{ summaries: AnalysisSummary[]; patients: number }> {
  const labels = JSON.parse(readFileSync(opts.labelsFile, 'utf8')) as CohortLabelEntry[];
  const entries = opts.limit ? labels.slice(0, opts.limit) : labels;
  const pool = new WorkerPool();
  const outcomes: PatientOutcome[] = [];
  try {
    for (const [k, entry] of entries.entries()) {
      const accepted = new Set(config.dimse.transferSyntaxes);
      const pre = await cohortStudyInstances(path.join(opts.cohortDir, entry.PatientID, 'pre'), accepted);
      if (!pre.length) throw new Error(`${entry.PatientID}: no pre-treatment study under ${opts.cohortDir}`);
      const prior = folderPriorStudy(path.join(opts.cohortDir, entry.PatientID, 'post'), { rules: config.selection.rules, acceptedTransferSyntaxes: accepted, pool });
      const clinical: ClinicalCovariates | undefined = opts.withClinical ? cohortCovariates(entry) : undefined;
      const a = await analyseStudy(
        { studyInstanceUid: pre[0]!.studyInstanceUid, instances: pre, analyses: ['stage', 'dmfs', 'msom', 'residual', 'progression'], ...(clinical ? { clinical } : {}), priorStudies: prior, computeCams: false },
        { models, rules: config.selection.rules, pool },
      );
      outcomes.push({ entry, results: a.results });
      opts.onProgress?.(k + 1, entries.length, entry.PatientID, a.results);
    }
  } finally {
    await pool.close();
  }
  const analyses = collectOutcomes(outcomes);
  const { summaries } = await writeValidationReport(opts.outDir, analyses, {
    cohort: `${path.resolve(opts.cohortDir)} (${outcomes.length} patients; labels ${path.basename(opts.labelsFile)})`,
    generatedAt: new Date().toISOString(),
    node: `npc-ai-node, models ${models.summaries().map((m) => `${m.id} ${m.version} (${m.provider})`).join(', ')}`,
    notes: [opts.withClinical ? 'Clinical covariates from the labels were combined where a model can (DMFS logistic model, MSOM early fusion).' : 'Image only: no clinical covariates were given to the models.'],
  });
  return { summaries, patients: outcomes.length };
}

/** Patient-level scores and labels per analysis; residual contributes one row per regimen. */
export function collectOutcomes(outcomes: PatientOutcome[]): AnalysisOutcomes[] {
  const spec: {
    id: string;
    title: string;
    analysis: string;
    classNames: [string, string];
    score: (r: AssessedResult) => number | undefined;
    cutoff: (r: AssessedResult) => number | undefined;
    label: (e: CohortLabelEntry) => number;
    survival?: (e: CohortLabelEntry) => { time: number; event: number };
    reported: string;
  }[] = [
    { id: 'stage', title: 'AJCC stage III vs IVa', analysis: 'stage', classNames: ['IVa', 'III'], score: (r) => r.probability, cutoff: (r) => r.cutoff, label: (e) => (e.stage === 'IVa' ? 1 : 0), reported: 'ensemble accuracy 0.81 (paper 000)' },
    {
      id: 'dmfs', title: 'DMFS risk group', analysis: 'dmfs', classNames: ['high risk', 'low risk'], score: (r) => r.probability, cutoff: (r) => r.cutoff, label: (e) => (e.dmfs.highRisk ? 1 : 0),
      survival: (e) => ({ time: e.dmfs.timeMonths, event: e.dmfs.event }), reported: 'AUC 0.783 signature / 0.808 combined, external test (paper 003)',
    },
    { id: 'msom', title: 'MSOM risk group', analysis: 'msom', classNames: ['high risk', 'low risk'], score: (r) => r.probability, cutoff: (r) => r.cutoff, label: (e) => (e.msom.highRisk ? 1 : 0), reported: 'validation AUC 0.733 CE-T1, 0.775 with clinical data (paper 004)' },
    { id: 'residual-ccrt', title: 'Residual tumour after CCRT', analysis: 'residual', classNames: ['residual', 'no residual'], score: (r) => r.components?.ccrt, cutoff: (r) => r.components?.ccrtCutoff, label: (e) => e.residual.ccrt, reported: 'patient-level AUC 0.907-0.938 (paper 002)' },
    { id: 'residual-ic-ccrt', title: 'Residual tumour after IC+CCRT', analysis: 'residual', classNames: ['residual', 'no residual'], score: (r) => r.components?.icCcrt, cutoff: (r) => r.components?.icCcrtCutoff, label: (e) => e.residual.icCcrt, reported: 'patient-level AUC 0.864-0.955 (paper 002)' },
    { id: 'progression', title: 'Progression risk (pre + post MR)', analysis: 'progression', classNames: ['high risk', 'low risk'], score: (r) => r.probability, cutoff: (r) => r.cutoff, label: (e) => (e.progression.highRisk ? 1 : 0), reported: 'ensemble AUC 0.842 (paper 001)' },
  ];
  return spec.map((s) => {
    const a: AnalysisOutcomes = { id: s.id, title: s.title, classNames: s.classNames, patientIds: [], scores: [], labels: [], cutoff: 0.5, models: [], notAssessable: [], reported: s.reported };
    const time: number[] = [];
    const event: number[] = [];
    const models = new Set<string>();
    for (const o of outcomes) {
      const r = o.results.find((x) => x.analysis === s.analysis);
      if (!r) continue;
      if (!r.assessable) {
        a.notAssessable.push({ patientId: o.entry.PatientID, reason: r.reason });
        continue;
      }
      const score = s.score(r);
      if (score === undefined) continue;
      a.patientIds.push(o.entry.PatientID);
      a.scores.push(score);
      a.labels.push(s.label(o.entry));
      a.cutoff = s.cutoff(r) ?? a.cutoff;
      r.models.forEach((m) => models.add(`${m.id} ${m.version}`));
      if (s.survival) {
        const sv = s.survival(o.entry);
        time.push(sv.time);
        event.push(sv.event);
      }
    }
    a.models = [...models];
    if (s.survival) a.survival = { label: 'DMFS probability', time, event };
    return a;
  });
}
