import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { storescu } from '../../helpers/dicom-peers';
import { writeSyntheticPatient } from '../../helpers/synthetic-study';
import { waitFor } from '../../helpers/wait-for';
import { runTool } from '../../helpers/dicom-peers';

const FIXTURE_MODELS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'models');

interface JobView {
  id: number;
  kind: string;
  state: string;
  studyInstanceUid: string;
  error: string | null;
  result: {
    generation: number;
    results: { analysis: string; assessable: boolean; value?: string; probability?: number; reason?: string; models?: { id: string; provider: string }[]; inputs?: { series: { role: string; rule?: string }[] } }[];
    outputs: { kind: string; sopInstanceUid: string; sopClassUid: string }[];
    selectedSeries: { role: string; rule: string }[];
  } | null;
}

async function analysisJob(node: TestNode, study: string): Promise<JobView> {
  return waitFor(async () => {
    const jobs = (await (await node.api(`/api/v1/jobs?kind=analysis&study=${study}`)).json()) as JobView[];
    const j = jobs.find((x) => x.state === 'done' || x.state === 'failed' || x.state === 'dead');
    if (!j) return undefined;
    return (await (await node.api(`/api/v1/jobs/${j.id}`)).json()) as JobView;
  }, 'the analysis job', 90_000);
}

describe('from a stored study to analysis results (CPU, tiny fixture models)', function () {
  this.timeout(180_000);
  let node: TestNode;
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir('npcai-pipeline-');
  });
  afterEach(async () => {
    await node?.cleanup();
    t.cleanup();
  });

  const start = (forceCompleteSeconds = 20) =>
    startTestNode({
      models: { dir: FIXTURE_MODELS },
      dimse: { allowUnknownSources: true },
      localAeTitles: [{ aeTitle: 'NPCAI', completion: { quietSeconds: 1, forceCompleteSeconds } }],
    });

  it('receives a study over DIMSE, completes it and answers every analysis with model identity, inputs and DICOM outputs', async () => {
    const study = await writeSyntheticPatient(t.dir, 4242);
    node = await start();
    const sent = await storescu(node.dimsePort, await study.files());
    assert.equal(sent.code, 0, sent.output);
    const job = await analysisJob(node, study.studyInstanceUid);
    assert.equal(job.state, 'done', job.error ?? '');
    const byId = new Map(job.result!.results.map((r) => [r.analysis, r]));
    assert.deepEqual([...byId.keys()].sort(), ['dmfs', 'msom', 'progression', 'residual', 'stage']);
    for (const id of ['stage', 'dmfs', 'msom', 'residual']) {
      const r = byId.get(id)!;
      assert.equal(r.assessable, true, `${id}: ${r.reason}`);
      assert.ok(r.probability! >= 0 && r.probability! <= 1);
      assert.ok(r.models!.length >= 1 && r.models!.every((m) => m.provider === 'cpu'));
      assert.ok(r.inputs!.series.every((s) => s.rule), `${id} records the selection rule of each input series`);
    }
    assert.equal(byId.get('progression')!.assessable, false, 'no other study of this patient yet');
    assert.match(byId.get('progression')!.reason!, /other .*study/);
    assert.deepEqual(job.result!.selectedSeries.map((s) => s.role).sort(), ['ce-t1', 't1', 't2']);
    const sr = job.result!.outputs.filter((o) => o.kind === 'sr');
    const sc = job.result!.outputs.filter((o) => o.kind === 'sc');
    assert.equal(sr.length, 1);
    assert.equal(sc.length, 4, 'one heat map per scored analysis');
    const srFile = path.join(node.dataDir, 'results', study.studyInstanceUid, `${sr[0]!.sopInstanceUid}.dcm`);
    assert.ok(existsSync(srFile), 'the SR is stored durably under results/');
    for (const o of [sr[0]!, sc[0]!]) {
      const file = path.join(node.dataDir, 'results', study.studyInstanceUid, `${o.sopInstanceUid}.dcm`);
      const v = await runTool('dciodvfy', ['-new', file]);
      assert.ok(!/^Error/m.test(v.output), `${o.kind}: ${v.output}`);
    }
    const dump = await runTool('dsrdump', [srFile]);
    assert.equal(dump.code, 0, dump.output);
    assert.match(dump.output, /Imaging Measurement Report/);
  });

  it('finds the patient\'s other study in the store for the progression analysis (pre- then post-treatment)', async () => {
    const study = await writeSyntheticPatient(t.dir, 4243, { withFollowup: true });
    node = await start();
    assert.equal((await storescu(node.dimsePort, await study.files())).code, 0);
    const first = await analysisJob(node, study.studyInstanceUid);
    assert.equal(first.result!.results.find((r) => r.analysis === 'progression')!.assessable, false, 'no other study yet');
    const labels = study.labels as { FollowupStudyInstanceUID: string };
    assert.equal((await storescu(node.dimsePort, await study.files({ study: 'post' }))).code, 0);
    const second = await analysisJob(node, labels.FollowupStudyInstanceUID);
    assert.equal(second.state, 'done', second.error ?? '');
    const progression = second.result!.results.find((r) => r.analysis === 'progression')!;
    assert.equal(progression.assessable, true, progression.reason);
    assert.deepEqual(progression.models!.map((m) => m.id).sort(), ['tiny-progression-post', 'tiny-progression-pre']);
  });

  it('makes the analyses that need CE-T1 "not assessable" with the reason when the study has no CE-T1', async () => {
    const study = await writeSyntheticPatient(t.dir, 777);
    node = await start(4);
    const sent = await storescu(node.dimsePort, await study.files({ withoutRoles: ['ce-t1', 'cor-ce-t1'] }));
    assert.equal(sent.code, 0, sent.output);
    // Completion waits for the required series, so this study goes on only at force-complete.
    const job = await analysisJob(node, study.studyInstanceUid);
    assert.equal(job.state, 'done', job.error ?? '');
    for (const r of job.result!.results.filter((x) => ['dmfs', 'msom', 'residual'].includes(x.analysis))) {
      assert.equal(r.assessable, false, r.analysis);
      assert.match(r.reason!, /ce-t1/i);
    }
    const sr = job.result!.outputs.filter((o) => o.kind === 'sr');
    assert.equal(sr.length, 1, 'the SR still states what could not be assessed');
  });
});
