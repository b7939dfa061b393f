import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { WorkerPool } from '../../../src/prepare';
import { writeCohort, type CohortLabelEntry } from '../../../src/synth/cohort';
import { encodeClinical } from '../../../src/analyses/clinical-covariates';
import { createPreparer } from '../../../src/analyses/prepare-adapter';
import type { SliceRegions } from '../../../src/analyses/ports';
import { exportTrainingData, type ExportMeta } from '../../../src/training/export-training-data';
import { readRecipe, type Recipe } from '../../../src/training/recipe';
import { cohortCovariates, trainingLabel } from '../../../src/training/cohort-labels';
import { buildRoleVolume, groundTruth, selectStudy } from '../../../src/training/cohort-study';
import { tempDir } from '../../helpers/temp-dir';

const RECIPE = path.resolve(__dirname, '..', '..', '..', '..', 'models', 'training', 'recipe.json');

describe('training export (npm run export-training)', function () {
  this.timeout(120_000);
  let tmp: { dir: string; cleanup: () => void };
  let pool: WorkerPool;
  let labels: CohortLabelEntry[];
  let recipe: Recipe;
  const config = loadConfig({ env: {} });
  const accepted = new Set(config.dimse.transferSyntaxes);
  const cohortDir = () => path.join(tmp.dir, 'cohort');
  const outDir = () => path.join(tmp.dir, 'export');
  const meta = (id: string) => JSON.parse(fs.readFileSync(path.join(outDir(), id, 'meta.json'), 'utf8')) as ExportMeta;
  const tensor = (id: string) => {
    const b = fs.readFileSync(path.join(outDir(), id, 'x.f32'));
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };

  before(async () => {
    tmp = tempDir('npcai-export-');
    pool = new WorkerPool({ size: 1 });
    labels = writeCohort(cohortDir(), { patients: 2, seed: 'export-test', withFollowup: true }).labels;
    const full = readRecipe(RECIPE);
    recipe = { ...full, models: full.models.filter((m) => ['npc-localiser', 'npc-dmfs', 'npc-msom', 'npc-progression-post'].includes(m.id)) };
    await exportTrainingData({ cohortDir: cohortDir(), outDir: outDir(), recipe, rules: config.selection.rules, acceptedTransferSyntaxes: accepted, pool });
  });
  after(async () => {
    await pool.close();
    tmp.cleanup();
  });

  it('writes x.f32 with the shape meta.json states, one row per sample, for every recipe model', () => {
    for (const m of recipe.models) {
      const md = meta(m.id);
      const [n, c, h, w] = md.shape;
      assert.equal(md.rows.length, n, m.id);
      assert.ok(n > 0, `${m.id} has samples`);
      assert.equal(tensor(m.id).length, n * c * h * w, m.id);
      const resize = [...m.preparation].reverse().find((s) => s.op === 'resize');
      assert.deepEqual([h, w], resize && resize.op === 'resize' ? [resize.rows, resize.columns] : [], m.id);
      assert.deepEqual(new Set(md.rows.map((r) => r.patientId)), new Set(labels.map((l) => l.PatientID)), `${m.id}: both patients`);
      assert.deepEqual(md.skipped, []);
    }
  });

  it('labels each row with the patient ground truth and encodes the clinical vector as the manifest encoding says', () => {
    const msom = meta('npc-msom');
    for (const row of msom.rows) {
      const entry = labels.find((l) => l.PatientID === row.patientId)!;
      assert.equal(row.label, trainingLabel(entry, 'msomHigh'));
      assert.equal(row.label, entry.msom.highRisk ? 1 : 0);
      const enc = encodeClinical(cohortCovariates(entry), msom.clinicalEncoding);
      assert.ok(enc.ok);
      assert.deepEqual(row.clinical, enc.vector);
    }
    assert.equal(msom.clinicalUse, 'input');
    const dmfs = meta('npc-dmfs');
    for (const row of dmfs.rows) assert.equal(row.label, labels.find((l) => l.PatientID === row.patientId)!.dmfs.highRisk ? 1 : 0);
    assert.equal(meta('npc-localiser').rows[0]!.label, null);
  });

  it('marks the largest-tumour slice as the serving slice and exports the other top-3 slices for training only', () => {
    const dmfs = meta('npc-dmfs');
    for (const l of labels) {
      const rows = dmfs.rows.filter((r) => r.patientId === l.PatientID);
      assert.equal(rows.length, 3);
      const serving = rows.filter((r) => r.servingSlice);
      assert.equal(serving.length, 1);
      assert.equal(serving[0]!.weight, Math.max(...rows.map((r) => r.weight)));
    }
  });

  it('takes post-treatment models from the follow-up study', () => {
    const post = meta('npc-progression-post');
    const postSops = new Set<string>();
    for (const l of labels) {
      const masks = path.join(cohortDir(), l.PatientID, 'post', 'masks');
      for (const f of fs.readdirSync(masks).filter((x) => x.endsWith('.json'))) {
        for (const s of (JSON.parse(fs.readFileSync(path.join(masks, f), 'utf8')) as { slices: { SOPInstanceUID: string }[] }).slices) postSops.add(s.SOPInstanceUID);
      }
    }
    assert.ok(post.rows.every((r) => postSops.has(r.sopInstanceUid)));
    assert.equal(post.study, 'post');
  });

  it('writes the localiser target through the same geometric steps (GTV and GTVln pixels where the masks have them)', () => {
    const md = meta('npc-localiser');
    const [n, , h, w] = md.shape;
    const y = fs.readFileSync(path.join(outDir(), 'npc-localiser', 'y.u8'));
    assert.equal(y.length, n * h * w);
    const x = tensor('npc-localiser');
    const count = [0, 0, 0];
    const mean = [0, 0, 0];
    for (let i = 0; i < y.length; i++) {
      count[y[i]!]!++;
      mean[y[i]!]! += x[i]!;
    }
    assert.ok(count[1]! > 0 && count[2]! > 0, 'GTV and GTVln present');
    // Enhancing tumour and nodes are brighter than the average background on CE-T1.
    assert.ok(mean[1]! / count[1]! > mean[0]! / count[0]!);
    assert.ok(mean[2]! / count[2]! > mean[0]! / count[0]!);
  });

  it('exports exactly the tensor the serving preparation path (ImagePreparer over src/prepare) yields for the same slice', async () => {
    const preparer = createPreparer();
    for (const id of ['npc-dmfs', 'npc-msom']) {
      const m = recipe.models.find((x) => x.id === id)!;
      const md = meta(id);
      const x = tensor(id);
      const [, c, h, w] = md.shape;
      const size = c * h * w;
      const row = md.rows.findIndex((r) => r.patientId === labels[1]!.PatientID && r.servingSlice);
      const studyDir = path.join(cohortDir(), labels[1]!.PatientID, 'pre');
      const volume = (await buildRoleVolume(await selectStudy(studyDir, config.selection.rules, accepted), m.role, pool))!;
      const gt = groundTruth(studyDir, volume);
      const k = md.rows[row]!.sliceIndex;
      const r = gt.regions[k]!;
      // The localiser's shape of regions: boxes + masks in source pixels.
      const regions: SliceRegions = {
        ...(r.gtv ? { gtv: r.gtv.box, gtvMask: r.gtv.mask!.data } : {}),
        ...(r.gtvln ? { gtvln: r.gtvln.box, gtvlnMask: r.gtvln.mask!.data } : {}),
      };
      const served = await preparer.prepareBatch([{ channels: [volume.slices[k]!], volumes: [volume], regions: [regions] }], m.preparation);
      assert.deepEqual(served.dims, [1, c, h, w]);
      assert.deepEqual(Array.from(served.data), Array.from(x.subarray(row * size, (row + 1) * size)), `${id}: identical tensor`);
    }
  });
});
