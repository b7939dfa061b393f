/**
 * Golden test of the shipped models (models/<id>/): checksums, sizes, cards, loading on CPU, and fixed
 * outputs for a fixed generated study through the serving path (series selection, src/prepare, localiser,
 * every analysis). An accidental change to preparation, selection, analyses or a model file changes these
 * numbers. After an intended change, regenerate the expected numbers with
 *   UPDATE_GOLDEN=1 npx mocha --no-config dist/test/unit/models/shipped-models.test.js
 * and say why in the commit.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { ModelManifestSchema } from '../../../src/infer/manifest';
import { ModelRegistry } from '../../../src/infer/model-registry';
import { silentLogger } from '../../../src/logging/logger';
import { WorkerPool } from '../../../src/prepare';
import { writeCohort, type CohortLabelEntry } from '../../../src/synth/cohort';
import { analyseCohortPatient } from '../../../src/training/analyse-cohort-study';
import { cohortCovariates } from '../../../src/training/cohort-labels';
import type { AnalysisResult } from '../../../src/analyses/types';
import { tempDir } from '../../helpers/temp-dir';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const MODELS = path.join(ROOT, 'models');
const GOLDEN = path.join(ROOT, 'test', 'fixtures', 'golden', 'shipped-models.json');
/** Absolute tolerance on probabilities (float differences between CPUs and onnxruntime builds). */
const TOLERANCE = 1e-4;
const MAX_MODEL_BYTES = 10 * 1024 * 1024;
const SEED = 'golden-shipped-models';

interface Golden {
  seed: string;
  tolerance: number;
  sha256: Record<string, string>;
  localisation: { gtvSlices: number; gtvlnSlices: number; largestTumourSlice: number | null };
  results: Record<string, Summary>;
}
type Summary = { assessable: false; reason: string } | { assessable: true; value: string; probability: number; components: Record<string, number>; models: string[]; clinicalCovariatesUsed: boolean };

function summarise(r: AnalysisResult): Summary {
  if (!r.assessable) return { assessable: false, reason: r.reason };
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  return {
    assessable: true,
    value: r.value,
    probability: round(r.probability),
    components: Object.fromEntries(Object.entries(r.components ?? {}).map(([k, v]) => [k, round(v)])),
    models: r.models.map((m) => m.id),
    clinicalCovariatesUsed: r.clinicalCovariatesUsed,
  };
}

const modelDirs = () => fs.readdirSync(MODELS).filter((d) => fs.existsSync(path.join(MODELS, d, 'manifest.json'))).sort();

describe('shipped models (golden)', function () {
  this.timeout(120_000);

  it('ship every task the analyses need, each with a manifest whose sha256 matches its ONNX file, <= 10 MB, and a research-use-only card', () => {
    const dirs = modelDirs();
    const tasks = new Map<string, number>();
    for (const d of dirs) {
      const m = ModelManifestSchema.parse(JSON.parse(fs.readFileSync(path.join(MODELS, d, 'manifest.json'), 'utf8')));
      assert.equal(m.id, d);
      const file = path.join(MODELS, d, m.file);
      assert.equal(createHash('sha256').update(fs.readFileSync(file)).digest('hex'), m.sha256, `${d}: sha256`);
      assert.ok(fs.statSync(file).size <= MAX_MODEL_BYTES, `${d}: at most 10 MB`);
      const card = fs.readFileSync(path.join(MODELS, d, 'MODEL_CARD.md'), 'utf8');
      assert.match(card, /Research use only/);
      assert.match(card, /## Training data/);
      assert.match(card, /## Metrics/);
      assert.match(card, /## Limits/);
      assert.ok(fs.existsSync(path.join(MODELS, d, 'training.json')), `${d}: training.json`);
      tasks.set(m.task, (tasks.get(m.task) ?? 0) + 1);
      if (m.task !== 'localiser') assert.match(m.cutoff!.method, /Youden|median/);
    }
    for (const t of ['localiser', 'dmfs', 'residual-ccrt', 'residual-ic-ccrt', 'progression-pre', 'progression-post']) assert.ok(tasks.get(t), `a ${t} model`);
    assert.ok(tasks.get('stage')! >= 2, 'at least two stage networks');
    assert.equal(tasks.get('msom'), 2, 'an image-only and an early-fusion MSOM model');
  });

  it('keep the committed checksums (a changed model file must come with new golden numbers)', () => {
    if (process.env.UPDATE_GOLDEN) return;
    const golden = JSON.parse(fs.readFileSync(GOLDEN, 'utf8')) as Golden;
    const now = Object.fromEntries(modelDirs().map((d) => [d, (JSON.parse(fs.readFileSync(path.join(MODELS, d, 'manifest.json'), 'utf8')) as { sha256: string }).sha256]));
    assert.deepEqual(now, golden.sha256);
  });

  describe('on a fixed generated study', () => {
    let tmp: { dir: string; cleanup: () => void };
    let pool: WorkerPool;
    let registry: ModelRegistry;
    let entry: CohortLabelEntry;
    const config = loadConfig({ env: {} });
    const opts = () => ({ rules: config.selection.rules, acceptedTransferSyntaxes: new Set(config.dimse.transferSyntaxes), pool });

    before(async () => {
      tmp = tempDir('npcai-golden-');
      pool = new WorkerPool({ size: 1 });
      entry = writeCohort(tmp.dir, { patients: 1, seed: SEED, withFollowup: true }).labels[0]!;
      registry = await ModelRegistry.load({ dir: MODELS, executionProviders: ['cpu'], batchSize: 16 }, silentLogger());
    });
    after(async () => {
      await registry?.close();
      await pool?.close();
      tmp?.cleanup();
    });

    it('loads every shipped model in the registry on CPU', () => {
      assert.deepEqual(registry.list().map((m) => m.manifest.id).sort(), modelDirs());
      for (const m of registry.list()) assert.equal(m.session.provider, 'cpu');
    });

    it(`gives the committed localisation and analysis outputs (probabilities within ${TOLERANCE})`, async () => {
      const patientDir = path.join(tmp.dir, entry.PatientID);
      const all = ['stage', 'dmfs', 'msom', 'residual', 'progression'] as const;
      const withClinical = await analyseCohortPatient(patientDir, registry, all, { ...opts(), clinical: cohortCovariates(entry) });
      const imageOnly = await analyseCohortPatient(patientDir, registry, ['dmfs', 'msom'], opts());
      const loc = withClinical.localisation;
      const now: Golden = {
        seed: SEED,
        tolerance: TOLERANCE,
        sha256: Object.fromEntries(registry.list().map((m) => [m.manifest.id, m.manifest.sha256]).sort()),
        localisation: {
          gtvSlices: loc ? loc.slices.filter((s) => s.gtvAreaPx > 0).length : 0,
          gtvlnSlices: loc ? loc.slices.filter((s) => s.gtvlnAreaPx > 0).length : 0,
          largestTumourSlice: loc?.largestTumourSlice ?? null,
        },
        results: {
          ...Object.fromEntries(withClinical.results.map((r) => [r.analysis, summarise(r)])),
          ...Object.fromEntries(imageOnly.results.map((r) => [`${r.analysis}-image-only`, summarise(r)])),
        },
      };
      if (process.env.UPDATE_GOLDEN) {
        fs.mkdirSync(path.dirname(GOLDEN), { recursive: true });
        fs.writeFileSync(GOLDEN, JSON.stringify(now, null, 2) + '\n');
        return;
      }
      const golden = JSON.parse(fs.readFileSync(GOLDEN, 'utf8')) as Golden;
      assert.deepEqual(now.localisation, golden.localisation);
      // Every analysis is assessed on this study and every shipped model contributes somewhere.
      for (const [k, r] of Object.entries(now.results)) assert.ok(r.assessable, `${k}: ${r.assessable ? '' : r.reason}`);
      const used = new Set(Object.values(now.results).flatMap((r) => (r.assessable ? r.models : [])));
      for (const d of modelDirs()) if (registry.get(d)!.manifest.task !== 'localiser') assert.ok(used.has(d), `${d} used by an analysis`);
      assert.deepEqual(Object.keys(now.results).sort(), Object.keys(golden.results).sort());
      for (const [k, want] of Object.entries(golden.results)) {
        const got = now.results[k]!;
        assert.equal(got.assessable, want.assessable, k);
        if (!got.assessable || !want.assessable) continue;
        assert.equal(got.value, want.value, `${k}: value`);
        assert.deepEqual(got.models, want.models, `${k}: models`);
        assert.equal(got.clinicalCovariatesUsed, want.clinicalCovariatesUsed, `${k}: covariates`);
        assert.ok(Math.abs(got.probability - want.probability) <= TOLERANCE, `${k}: probability ${got.probability} vs ${want.probability}`);
        assert.deepEqual(Object.keys(got.components).sort(), Object.keys(want.components).sort(), `${k}: components`);
        for (const [c, v] of Object.entries(want.components)) assert.ok(Math.abs(got.components[c]! - v) <= TOLERANCE, `${k}.${c}: ${got.components[c]} vs ${v}`);
      }
    });
  });
});
