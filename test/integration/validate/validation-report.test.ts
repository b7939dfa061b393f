import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { ModelRegistry } from '../../../src/infer/model-registry';
import { silentLogger } from '../../../src/logging/logger';
import { writeCohort } from '../../../src/synth/cohort';
import { runValidation } from '../../../src/validate/run-validation';
import { tempDir } from '../../helpers/temp-dir';

const FIXTURE_MODELS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'models');

describe('validation report over a labelled cohort', function () {
  this.timeout(180_000);
  it('runs every patient through the analysis path from DICOM files and writes the HTML report with its figures', async () => {
    const t = tempDir('npcai-validate-');
    const config = loadConfig({ env: {} });
    const models = await ModelRegistry.load({ ...config.models, dir: FIXTURE_MODELS, executionProviders: ['cpu'] }, silentLogger());
    try {
      const cohort = path.join(t.dir, 'cohort');
      writeCohort(cohort, { patients: 4, seed: 515, matrix: 256, withFollowup: true });
      const progress: string[] = [];
      const out = path.join(t.dir, 'report');
      const { summaries, patients } = await runValidation(config, models, {
        cohortDir: cohort,
        labelsFile: path.join(cohort, 'labels.json'),
        outDir: out,
        withClinical: false,
        onProgress: (done, total, id) => progress.push(`${done}/${total} ${id}`),
      });
      assert.equal(patients, 4);
      assert.deepEqual(progress.map((p) => p.split(' ')[0]), ['1/4', '2/4', '3/4', '4/4']);
      assert.deepEqual(summaries.map((s) => s.id), ['stage', 'dmfs', 'msom', 'residual-ccrt', 'residual-ic-ccrt', 'progression']);
      const prog = summaries.find((s) => s.id === 'progression')!;
      assert.equal(prog.n, 4, 'the post-treatment folder serves as the other study');
      const dmfs = summaries.find((s) => s.id === 'dmfs')!;
      assert.ok(dmfs.cIndex !== undefined && dmfs.logRankP !== undefined, 'DMFS has survival figures');
      for (const f of ['index.html', 'summary.json', 'stage-roc.png', 'stage-confusion.png', 'stage-calibration.png', 'dmfs-km.png']) {
        assert.ok(existsSync(path.join(out, f)), f);
      }
      const html = readFileSync(path.join(out, 'index.html'), 'utf8');
      assert.match(html, /Research use only/);
      assert.match(html, /AUC \(95% CI\)/);
    } finally {
      await models.close();
      t.cleanup();
    }
  });
});
