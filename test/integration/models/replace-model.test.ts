/**
 * A site replaces a shipped model by its own ONNX file + manifest: no code change, the node loads the new
 * one (GET /api/v1/models), and the analysis runs on it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WorkerPool } from '../../../src/prepare';
import { writeCohort } from '../../../src/synth/cohort';
import { analyseCohortPatient } from '../../../src/training/analyse-cohort-study';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const SHIPPED = path.join(ROOT, 'models');
const REPLACEMENT = path.join(ROOT, 'test', 'fixtures', 'models', 'tiny-residual-ccrt');

describe('replacing a shipped model', function () {
  this.timeout(120_000);
  let tmp: { dir: string; cleanup: () => void };
  let node: TestNode | undefined;
  let pool: WorkerPool;

  before(() => {
    tmp = tempDir('npcai-replace-');
    pool = new WorkerPool({ size: 1 });
    const models = path.join(tmp.dir, 'models');
    for (const d of fs.readdirSync(SHIPPED)) {
      if (fs.existsSync(path.join(SHIPPED, d, 'manifest.json'))) fs.cpSync(path.join(SHIPPED, d), path.join(models, d), { recursive: true });
    }
    // The site's own residual-after-CCRT model: another network, another preparation, its own manifest.
    fs.rmSync(path.join(models, 'npc-residual-ccrt'), { recursive: true });
    fs.cpSync(REPLACEMENT, path.join(models, 'tiny-residual-ccrt'), { recursive: true });
  });
  after(async () => {
    await node?.cleanup();
    await pool.close();
    tmp.cleanup();
  });

  it('loads the replacement from the models directory and uses it in the residual analysis, with no code change', async () => {
    node = await startTestNode({ models: { dir: path.join(tmp.dir, 'models') } });
    const res = await node.api('/api/v1/models');
    assert.equal(res.status, 200);
    const list = (await res.json()) as { id: string; task: string; sha256: string }[];
    const ids = list.map((m) => m.id);
    assert.ok(ids.includes('tiny-residual-ccrt'));
    assert.ok(!ids.includes('npc-residual-ccrt'));
    const replacement = JSON.parse(fs.readFileSync(path.join(REPLACEMENT, 'manifest.json'), 'utf8')) as { sha256: string };
    assert.equal(list.find((m) => m.id === 'tiny-residual-ccrt')!.sha256, replacement.sha256);
    assert.deepEqual(list.filter((m) => m.task === 'residual-ccrt').map((m) => m.id), ['tiny-residual-ccrt']);

    // The node's own registry runs the analysis on a generated study.
    const cohort = path.join(tmp.dir, 'cohort');
    const entry = writeCohort(cohort, { patients: 1, seed: 'replace-model', noDistractors: true }).labels[0]!;
    const out = await analyseCohortPatient(path.join(cohort, entry.PatientID), node.models, ['residual'], {
      rules: node.config.selection.rules,
      acceptedTransferSyntaxes: new Set(node.config.dimse.transferSyntaxes),
      pool,
    });
    const r = out.results[0]!;
    assert.ok(r.assessable, r.assessable ? '' : r.reason);
    assert.deepEqual(r.models.map((m) => m.id).sort(), ['npc-residual-ic-ccrt', 'tiny-residual-ccrt']);
    assert.equal(r.models.find((m) => m.id === 'tiny-residual-ccrt')!.sha256, replacement.sha256);
    assert.equal(r.components!.ccrtCutoff, 0.5, "the replacement's own cut-off applies");
  });
});
