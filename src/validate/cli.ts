/**
 * `npm run validate -- --cohort DIR [--labels FILE] [--out DIR] [--models DIR] [--clinical] [--limit N]`:
 * runs a labelled cohort through the node's analysis path from DICOM files and writes an HTML report
 * with PNG figures (ROC with AUC and 95 % CI, confusion matrix, calibration, Kaplan-Meier with log-rank p).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load';
import { ModelRegistry } from '../infer/model-registry';
import { createLogger } from '../logging/logger';
import { runValidation } from './run-validation';
import { errorMessage } from '../util/error-message';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cohort: { type: 'string' },
      labels: { type: 'string' },
      out: { type: 'string', default: 'validation-report' },
      models: { type: 'string' },
      clinical: { type: 'boolean', default: false },
      limit: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || !values.cohort) {
    process.stdout.write('usage: npm run validate -- --cohort DIR [--labels DIR/labels.json] [--out validation-report] [--models ./models] [--clinical] [--limit N]\n');
    process.exit(values.help ? 0 : 2);
  }
  const config = loadConfig();
  const logger = createLogger(config.logging.level === 'info' ? 'warn' : config.logging.level);
  const models = await ModelRegistry.load({ ...config.models, ...(values.models ? { dir: path.resolve(values.models) } : {}) }, logger);
  if (models.size === 0) throw new Error(`no models in ${values.models ?? config.models.dir}`);
  const tty = process.stderr.isTTY;
  const started = Date.now();
  const { summaries, patients } = await runValidation(config, models, {
    cohortDir: values.cohort,
    labelsFile: values.labels ?? path.join(values.cohort, 'labels.json'),
    outDir: values.out!,
    withClinical: values.clinical!,
    ...(values.limit ? { limit: Number(values.limit) } : {}),
    onProgress(done, total, patientId, results) {
      const eta = ((Date.now() - started) / done) * (total - done);
      const line = `[${done}/${total}] ${patientId}: ${results.map((r) => `${r.analysis} ${r.assessable ? r.value : 'n/a'}`).join(', ')}  (about ${Math.round(eta / 1000)} s left)`;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  await models.close();
  const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
  for (const s of summaries) {
    process.stdout.write(`${s.title.padEnd(34)} n=${String(s.n).padEnd(4)} AUC ${f3(s.auc)} (${f3(s.aucLower)}-${f3(s.aucUpper)})${s.cIndex !== undefined ? `  C-index ${s.cIndex.toFixed(3)}` : ''}${s.logRankP !== undefined ? `  log-rank p ${s.logRankP < 0.001 ? '<0.001' : s.logRankP.toFixed(3)}` : ''}${s.notAssessable ? `  not assessable ${s.notAssessable}` : ''}\n`);
  }
  process.stdout.write(`${patients} patients in ${Math.round((Date.now() - started) / 1000)} s; report: ${path.resolve(values.out!, 'index.html')}\n`);
}

main().catch((err) => {
  process.stderr.write(`validate: ${errorMessage(err)}\n`);
  process.exit(1);
});
