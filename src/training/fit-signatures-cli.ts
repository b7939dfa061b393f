/**
 * npm run fit-signatures -- --cohort DIR [--models models] [--recipe models/training/recipe.json] [--patients N]
 * Fits the image signatures of the recipe (fit-signatures.ts) on a training cohort through the node's serving
 * path and writes <models>/<id>/signature.json; then run tools/write-model-manifests.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load';
import { ModelRegistry } from '../infer/model-registry';
import { silentLogger } from '../logging/logger';
import { WorkerPool } from '../prepare';
import { collectPatientRows, writeSignatures } from './fit-signatures';
import { readRecipe } from './recipe';
import { errorMessage } from '../util/error-message';

const USAGE = 'usage: npm run fit-signatures -- --cohort DIR [--models DIR] [--recipe FILE] [--patients N]';

async function main(): Promise<void> {
  let values: { cohort?: string; models?: string; recipe?: string; patients?: string };
  try {
    ({ values } = parseArgs({ options: { cohort: { type: 'string' }, models: { type: 'string' }, recipe: { type: 'string' }, patients: { type: 'string' } } }));
    if (!values.cohort) throw new Error('--cohort is required');
    if (values.patients !== undefined && !(Number(values.patients) >= 1)) throw new Error('--patients must be a positive number');
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const config = loadConfig();
  const modelsDir = path.resolve(values.models ?? 'models');
  const recipe = readRecipe(path.resolve(values.recipe ?? path.join('models', 'training', 'recipe.json')));
  const models = await ModelRegistry.load({ ...config.models, dir: modelsDir, executionProviders: ['cpu'] }, silentLogger());
  const pool = new WorkerPool();
  try {
    const rows = await collectPatientRows(path.resolve(values.cohort), models, {
      rules: config.selection.rules,
      acceptedTransferSyntaxes: new Set(config.dimse.transferSyntaxes),
      pool,
      ...(values.patients ? { limit: Number(values.patients) } : {}),
      onProgress: (i, n) => {
        if (i % 10 === 0 || i === n) process.stderr.write(`fit-signatures: ${i}/${n} patients\n`);
      },
    });
    const cohortFile = path.join(path.resolve(values.cohort), 'cohort.json');
    const described = existsSync(cohortFile) ? (JSON.parse(readFileSync(cohortFile, 'utf8')) as { seed?: unknown }) : {};
    const cohort = { ...(described.seed !== undefined ? { seed: described.seed } : {}), patients: rows.length };
    for (const line of writeSignatures(recipe, rows, modelsDir, cohort)) process.stdout.write(`${line}\n`);
  } catch (e) {
    process.stderr.write(`fit-signatures failed: ${errorMessage(e)}\n`);
    process.exitCode = 1;
  } finally {
    await pool.close();
    await models.close();
  }
}

if (require.main === module) void main();
