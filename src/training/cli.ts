/**
 * npm run export-training -- --cohort DIR --out DIR [--recipe models/training/recipe.json] [--only id,id]
 *                            [--patients N] [--workers N]
 * Writes the model-input tensors and labels of every recipe model for a synthetic cohort (see
 * export-training-data.ts for the layout); models/training/train.py trains on them.
 */
import path from 'node:path';
import { ModelRegistry } from '../infer/model-registry';
import { silentLogger } from '../logging/logger';
import { loadConfig } from '../config/load';
import { WorkerPool } from '../prepare';
import { exportTrainingData } from './export-training-data';
import { readRecipe } from './recipe';
import { errorMessage } from '../util/error-message';

const USAGE = 'usage: npm run export-training -- --cohort DIR --out DIR [--recipe models/training/recipe.json] [--only id,id] [--patients N] [--workers N] [--regions-from-localiser MODELS_DIR]';

export interface ExportCliArgs {
  cohort: string;
  out: string;
  recipe: string;
  only?: string[];
  patients?: number;
  workers?: number;
  /** A models dir whose localiser gives the regions (as in service) instead of the ground-truth masks. */
  regionsFrom?: string;
}

export function parseExportArgs(argv: readonly string[]): ExportCliArgs {
  const a: Partial<ExportCliArgs> = { recipe: path.join('models', 'training', 'recipe.json') };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value\n${USAGE}`);
      return v;
    };
    const int = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${k} must be a positive whole number\n${USAGE}`);
      return n;
    };
    switch (k) {
      case '--cohort': a.cohort = value(); break;
      case '--out': a.out = value(); break;
      case '--recipe': a.recipe = value(); break;
      case '--only': a.only = value().split(',').filter(Boolean); break;
      case '--patients': a.patients = int(value()); break;
      case '--workers': a.workers = int(value()); break;
      case '--regions-from-localiser': a.regionsFrom = value(); break;
      case '--help': case '-h': throw new Error(USAGE);
      default: throw new Error(`unknown argument ${k}\n${USAGE}`);
    }
  }
  if (!a.cohort || !a.out) throw new Error(`--cohort and --out are required\n${USAGE}`);
  return a as ExportCliArgs;
}

async function main(): Promise<void> {
  let args: ExportCliArgs;
  try {
    args = parseExportArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\n`);
    process.exitCode = 2;
    return;
  }
  const config = loadConfig();
  const pool = new WorkerPool({ size: args.workers ?? 1 });
  let registry: ModelRegistry | undefined;
  if (args.regionsFrom) registry = await ModelRegistry.load({ ...config.models, dir: path.resolve(args.regionsFrom), executionProviders: ['cpu'] }, silentLogger());
  const localiser = registry?.byTask('localiser')[0];
  if (args.regionsFrom && !localiser) throw new Error(`no localiser model in ${args.regionsFrom}`);
  const started = Date.now();
  try {
    const summary = await exportTrainingData({
      cohortDir: path.resolve(args.cohort),
      outDir: path.resolve(args.out),
      recipe: readRecipe(path.resolve(args.recipe)),
      rules: config.selection.rules,
      acceptedTransferSyntaxes: new Set(config.dimse.transferSyntaxes),
      pool,
      ...(args.only ? { only: args.only } : {}),
      ...(args.patients ? { maxPatients: args.patients } : {}),
      ...(localiser ? { localiser } : {}),
      onPatient: (i, n) => {
        if ((i + 1) % 10 === 0 || i + 1 === n) process.stderr.write(`export: ${i + 1}/${n} patients\n`);
      },
    });
    for (const m of summary.models) {
      process.stdout.write(`${m.id}: ${m.samples} samples from ${m.patients} patients, shape [${m.shape.join(', ')}]${m.skipped ? `, ${m.skipped} patient(s) skipped (see meta.json)` : ''}\n`);
    }
    process.stdout.write(`exported in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (e) {
    process.stderr.write(`export failed: ${errorMessage(e)}\n`);
    process.exitCode = 1;
  } finally {
    await pool.close();
    await registry?.close();
  }
}

if (require.main === module) void main();
