import assert from 'node:assert/strict';
import { ANALYSES, ANALYSIS_DEFINITIONS, analysisDefinition } from '../../../src/analyses/registry';
import { AnalysisIdSchema, ALL_ANALYSES, LocalAeTitleSchema } from '../../../src/config/schema';
import { ANALYSIS_IDS, ANALYSIS_MODEL_TASKS, SOFT_VOTE_TASKS } from '../../../src/core/analysis-ids';
import { MODEL_TASKS } from '../../../src/core/model-tasks';
import { instanceNumberOf } from '../../../src/encode/sc/encode-heat-map-capture';
import { SR_ENCODED_ANALYSES, TRACKING_IDENTIFIERS } from '../../../src/encode/sr/tid-1500-measurement-report';
import { ModelTaskSchema } from '../../../src/infer/manifest';
import { ALL_FIXTURE_MODELS, FIXTURE_MODELS_DIR } from '../infer/model-fixtures';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const sorted = (xs: readonly string[]) => [...xs].sort();

describe('analysis registry', () => {
  it('has one record per id, keyed by its own id, in the fixed order', () => {
    assert.deepEqual(sorted(Object.keys(ANALYSES)), sorted(ANALYSIS_IDS));
    for (const id of ANALYSIS_IDS) {
      assert.equal(ANALYSES[id].id, id);
      assert.equal(analysisDefinition(id), ANALYSES[id]);
    }
    assert.deepEqual(ANALYSIS_DEFINITIONS.map((d) => d.id), [...ANALYSIS_IDS]);
    assert.deepEqual([...ANALYSIS_IDS], ['stage', 'dmfs', 'msom', 'residual', 'progression'], 'append new analyses at the end');
  });

  it('agrees with the config enum and its default', () => {
    assert.deepEqual(AnalysisIdSchema.options, [...ANALYSIS_IDS]);
    assert.deepEqual(ALL_ANALYSES, ANALYSIS_IDS);
    assert.deepEqual(LocalAeTitleSchema.parse({ aeTitle: 'NPC_AI' }).analyses, [...ANALYSIS_IDS]);
    assert.throws(() => AnalysisIdSchema.parse('recurrence'));
  });

  it('agrees with the SR encoder: a tracking identifier and coded items for every analysis, no orphan', () => {
    assert.deepEqual(sorted(Object.keys(TRACKING_IDENTIFIERS)), sorted(ANALYSIS_IDS));
    assert.deepEqual(sorted(SR_ENCODED_ANALYSES), sorted(ANALYSIS_IDS));
    for (const id of ANALYSIS_IDS) assert.equal(TRACKING_IDENTIFIERS[id], ANALYSES[id].report.trackingIdentifier);
    assert.equal(new Set(Object.values(TRACKING_IDENTIFIERS)).size, ANALYSIS_IDS.length, 'tracking identifiers are distinct');
    assert.equal(new Set(ANALYSIS_DEFINITIONS.map((d) => d.title)).size, ANALYSIS_IDS.length, 'titles are distinct');
  });

  it('gives the heat maps stable instance numbers in the analysis order (10, 20, ...)', () => {
    assert.deepEqual(ANALYSIS_IDS.map((id) => instanceNumberOf(id, 0)), [11, 21, 31, 41, 51]);
    assert.equal(instanceNumberOf('residual', 2), 43);
  });

  it('declares model tasks that exist, soft-votes only tasks it needs, and the model registry checks exactly those', () => {
    assert.deepEqual(ModelTaskSchema.options, [...MODEL_TASKS]);
    for (const d of ANALYSIS_DEFINITIONS) {
      assert.equal(d.modelTasks, ANALYSIS_MODEL_TASKS[d.id]);
      for (const t of d.modelTasks.needs) assert.ok((MODEL_TASKS as readonly string[]).includes(t), `${d.id}: ${t}`);
      for (const t of d.modelTasks.softVote) assert.ok((d.modelTasks.needs as readonly string[]).includes(t), `${d.id} soft-votes ${t} but does not need it`);
    }
    assert.deepEqual(sorted(SOFT_VOTE_TASKS), sorted(['stage', 'dmfs', 'residual-ccrt', 'residual-ic-ccrt', 'progression-pre', 'progression-post']));
  });

  it('has a fixture model for every task an analysis needs', () => {
    const tasks = new Set(ALL_FIXTURE_MODELS.map((id) => (JSON.parse(readFileSync(path.join(FIXTURE_MODELS_DIR, id, 'manifest.json'), 'utf8')) as { task: string }).task));
    for (const d of ANALYSIS_DEFINITIONS) for (const t of d.modelTasks.needs) assert.ok(tasks.has(t), `${d.id}: no fixture model for ${t}`);
  });
});
