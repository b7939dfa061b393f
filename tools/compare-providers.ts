/**
 * The GPU check of the model runtime: the same generated study analysed with the models on the CPU
 * provider and on another provider (default webgpu) must give the same patient-level answers within a
 * tolerance. Run on a GPU host: `node dist/tools/compare-providers.js [--provider webgpu] [--tolerance 1e-3]`.
 * Exits 0 when every probability agrees, 1 when one differs, 2 when the provider does not start here.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load';
import { ModelRegistry } from '../src/infer/model-registry';
import { silentLogger } from '../src/logging/logger';
import { WorkerPool } from '../src/prepare';
import { writeCohort } from '../src/synth/cohort';
import { analyseStudy } from '../src/pipeline/analyse-study';
import { instancesFromFiles, listDicomFiles } from '../src/pipeline/instances-from-files';
import type { ExecutionProvider } from '../src/config/schema';

async function analyse(providers: ExecutionProvider[], dir: string) {
  const config = loadConfig({ env: {} });
  const models = await ModelRegistry.load({ ...config.models, executionProviders: providers }, silentLogger());
  const pool = new WorkerPool();
  try {
    const files = (await listDicomFiles(dir)).filter((f) => !f.includes(`${path.sep}masks${path.sep}`) && f.includes(`${path.sep}pre${path.sep}`));
    const { instances } = await instancesFromFiles(files, { acceptedTransferSyntaxes: new Set(config.dimse.transferSyntaxes) });
    const t0 = Date.now();
    const a = await analyseStudy({ studyInstanceUid: instances[0]!.studyInstanceUid, instances, analyses: ['stage', 'dmfs', 'msom', 'residual'] }, { models, rules: config.selection.rules, pool });
    return { results: a.results, ms: Date.now() - t0, providers: [...new Set(models.summaries().map((m) => m.provider))] };
  } finally {
    await pool.close();
    await models.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { provider: { type: 'string', default: 'webgpu' }, tolerance: { type: 'string', default: '1e-3' }, seed: { type: 'string', default: '9001' } } });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'npcai-compare-'));
  try {
    writeCohort(dir, { patients: 1, seed: Number(values.seed), matrix: 512 });
    const cpu = await analyse(['cpu'], dir);
    const other = await analyse([values.provider as ExecutionProvider], dir).catch((e: Error) => {
      console.error(`provider ${values.provider} does not start here: ${e.message}`);
      process.exit(2);
    });
    const tol = Number(values.tolerance);
    let worst = 0;
    for (const r of cpu.results) {
      const o = other.results.find((x) => x.analysis === r.analysis)!;
      if (!r.assessable || !o.assessable) continue;
      const d = Math.abs(r.probability - o.probability);
      worst = Math.max(worst, d);
      console.log(`${r.analysis.padEnd(9)} cpu ${r.probability.toFixed(6)} ${values.provider} ${o.probability.toFixed(6)} |diff| ${d.toExponential(2)} ${r.value === o.value ? 'same answer' : 'DIFFERENT ANSWER'}`);
    }
    console.log(`study analysed in ${cpu.ms} ms on cpu, ${other.ms} ms on ${other.providers.join('/')}; largest difference ${worst.toExponential(2)} (tolerance ${tol})`);
    process.exit(worst <= tol ? 0 : 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
