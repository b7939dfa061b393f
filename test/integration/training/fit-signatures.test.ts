/**
 * fit-signatures through the serving path: a small generated cohort, the shipped models on CPU, the rows
 * (votes and localiser measures) and signature.json files whose signatures the node's manifest schema accepts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { ModelManifestSchema, checkManifest } from '../../../src/infer/manifest';
import { ModelRegistry } from '../../../src/infer/model-registry';
import { silentLogger } from '../../../src/logging/logger';
import { WorkerPool } from '../../../src/prepare';
import { writeCohort } from '../../../src/synth/cohort';
import { collectPatientRows, writeSignatures, type PatientRow, type SignatureFile } from '../../../src/training/fit-signatures';
import { readRecipe } from '../../../src/training/recipe';
import { tempDir } from '../../helpers/temp-dir';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

describe('fit-signatures on a generated cohort', function () {
  this.timeout(300_000);
  const config = loadConfig({ env: {} });
  let tmp: { dir: string; cleanup: () => void };
  let pool: WorkerPool;
  let registry: ModelRegistry;
  let rows: PatientRow[];

  before(async () => {
    tmp = tempDir('npcai-fit-');
    writeCohort(path.join(tmp.dir, 'cohort'), { patients: 8, seed: 'fit-signatures-test', withFollowup: false });
    fs.cpSync(path.join(ROOT, 'models'), path.join(tmp.dir, 'models'), { recursive: true });
    for (const d of fs.readdirSync(path.join(tmp.dir, 'models'))) {
      if (fs.statSync(path.join(tmp.dir, 'models', d)).isDirectory()) fs.rmSync(path.join(tmp.dir, 'models', d, 'signature.json'), { force: true });
    }
    pool = new WorkerPool({ size: 1 });
    registry = await ModelRegistry.load({ dir: path.join(tmp.dir, 'models'), executionProviders: ['cpu'], batchSize: 16 }, silentLogger());
    rows = await collectPatientRows(path.join(tmp.dir, 'cohort'), registry, { rules: config.selection.rules, acceptedTransferSyntaxes: new Set(config.dimse.transferSyntaxes), pool });
  });
  after(async () => {
    await registry?.close();
    await pool?.close();
    tmp?.cleanup();
  });

  it('collects, per patient, every task vote (image only and with the clinical record) and the localiser measures', () => {
    assert.equal(rows.length, 8);
    for (const r of rows) {
      assert.deepEqual(Object.keys(r.votes).sort(), ['dmfs:networksVote', 'msom:networksVote', 'residual:ccrt.networksVote', 'residual:icCcrt.networksVote', 'stage:networksVote']);
      assert.ok(r.votesWithClinical['msom:networksVote'] !== undefined, 'MSOM fusion vote');
      for (const v of Object.values(r.votes)) assert.ok(v > 0 && v < 1);
    }
    // every generated patient has a primary tumour and nodes (stage III-IVa): the localiser must see them
    assert.ok(rows.filter((r) => r.measures.gtvVolumeMl > 0.5).length >= 7, JSON.stringify(rows.map((r) => r.measures.gtvVolumeMl)));
    assert.ok(rows.every((r) => r.measures.gtvRelativeSignal > 0 && r.measures.gtvSignalCv > 0));
  });

  it('writes a signature for every recipe model with one, which the manifest schema accepts in place', () => {
    const recipe = readRecipe(path.join(ROOT, 'models', 'training', 'recipe.json'));
    const written = writeSignatures(recipe, rows, path.join(tmp.dir, 'models'), { seed: 'fit-signatures-test', patients: rows.length });
    const ids = written.map((w) => w.slice(0, w.indexOf(':'))).sort();
    assert.deepEqual(ids, ['npc-dmfs', 'npc-msom', 'npc-msom-fusion', 'npc-residual-ccrt', 'npc-residual-ic-ccrt', 'npc-stage-plain', 'npc-stage-resnet']);
    for (const id of ids) {
      const dir = path.join(tmp.dir, 'models', id);
      const sig = JSON.parse(fs.readFileSync(path.join(dir, 'signature.json'), 'utf8')) as SignatureFile;
      assert.equal(sig.cohort.patients, 8);
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
      const parsed = ModelManifestSchema.parse({ ...manifest, signature: sig.signature, cutoff: sig.cutoff });
      assert.deepEqual(checkManifest(parsed), []);
      assert.ok(sig.cutoff.value > 0 && sig.cutoff.value < 1, `${id} cut-off ${sig.cutoff.value}`);
    }
  });
});
