/**
 * Study completion over real DIMSE: storescu sends a three-series study over three associations a few
 * seconds apart; the rule-based selector recognises axial T1, T2 and CE-T1; one analysis job follows the
 * quiet period; a late series re-opens the study and gives a generation 1 job that supersedes the first.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { writeMrInstance, writeMrStudy } from '../../helpers/mr-fixture';
import { storescu } from '../../helpers/dicom-peers';
import { deterministicUid } from '../../../src/dicom/uids';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

interface JobView {
  id: number;
  kind: string;
  state: string;
  generation: number;
  parentJobId: number | null;
  supersededBy: number | null;
  payload?: { trigger?: string; reason?: string; roles?: Record<string, string>; missingRoles?: string[] };
}

interface JobRow {
  id: number;
  state: string;
  generation: number;
  parent_job_id: number | null;
  superseded_by: number | null;
}

async function analysisJobs(node: TestNode, study: string): Promise<JobView[]> {
  const r = await node.api(`/api/v1/jobs?study=${study}&kind=analysis`);
  assert.equal(r.status, 200);
  return ((await r.json()) as JobView[]).sort((a, b) => a.id - b.id);
}

function jobRows(node: TestNode, study: string): JobRow[] {
  return node.db
    .prepare(`SELECT id, state, generation, parent_job_id, superseded_by FROM jobs WHERE kind = 'analysis' AND study_instance_uid = ? ORDER BY id`)
    .all(study) as JobRow[];
}

async function waitForJobs(node: TestNode, study: string, n: number, ms = 15000): Promise<JobView[]> {
  const end = Date.now() + ms;
  for (;;) {
    const jobs = await analysisJobs(node, study);
    if (jobs.length >= n) return jobs;
    if (Date.now() > end) throw new Error(`expected ${n} analysis jobs, have ${jobs.length}`);
    await sleep(100);
  }
}

/** The analysis worker picks jobs up at once; here it only matters that a job exists and is not failed. */
const ACTIVE = ['queued', 'running', 'done'];

describe('study completion over DIMSE (storescu, rule-based selector)', function () {
  this.timeout(120000);
  let node: TestNode;
  let work: { dir: string; cleanup: () => void };

  beforeEach(async () => {
    work = tempDir('npcai-complete-');
    node = await startTestNode({
      sources: [{ aeTitle: 'STORESCU' }],
      localAeTitles: [{ aeTitle: 'NPCAI', completion: { quietSeconds: 2, forceCompleteSeconds: 30, requiredSeries: ['t1', 't2', 'ce-t1'] } }],
    });
  });
  afterEach(async () => {
    await node.cleanup();
    work.cleanup();
  });

  it('gives exactly one analysis job after the quiet period for three series sent over three associations, then re-analyses a late series', async () => {
    const study = writeMrStudy(path.join(work.dir, 'study'), { slices: 4, name: 'complete' });
    // Three associations, each one series, more than quietSeconds apart: quiet alone does not complete a
    // study that lacks a required series.
    for (const [i, s] of study.series.entries()) {
      if (i > 0) await sleep(2500);
      const r = await storescu(node.dimsePort, s.files);
      assert.equal(r.code, 0, r.output);
      if (i < 2) assert.deepEqual(await analysisJobs(node, study.studyUid), [], `a job after series ${i + 1} of 3`);
    }
    const jobs = await waitForJobs(node, study.studyUid, 1);
    assert.equal(jobs.length, 1);
    const first = jobs[0]!;
    assert.equal(first.generation, 0);
    assert.ok(ACTIVE.includes(first.state), first.state);
    assert.equal(first.parentJobId, null);
    const detail = (await (await node.api(`/api/v1/jobs/${first.id}`)).json()) as JobView;
    assert.equal(detail.payload?.reason, 'quiet');
    assert.equal(detail.payload?.trigger, 'initial');
    assert.deepEqual(detail.payload?.missingRoles, []);
    assert.deepEqual(Object.keys(detail.payload?.roles ?? {}).sort(), ['ce-t1', 't1', 't2']);
    assert.equal(detail.payload?.roles?.['ce-t1'], study.series[2]!.seriesUid);

    // Nothing else arrives: still one job, and the study reads complete.
    await sleep(2500);
    assert.equal((await analysisJobs(node, study.studyUid)).length, 1);
    assert.equal(jobRows(node, study.studyUid).length, 1);
    const view = (await (await node.api(`/api/v1/studies/${study.studyUid}`)).json()) as { state: string; generation: number; completionReason: string };
    assert.equal(view.state, 'complete');
    assert.equal(view.generation, 0);

    // A late series (a coronal T2) after completion: re-analysis, generation 1, the first job superseded.
    const late = [1, 2, 3].map((n) =>
      writeMrInstance(path.join(work.dir, 'late', `i${n}.dcm`), {
        studyUid: study.studyUid,
        seriesUid: deterministicUid('complete-late-series'),
        sopUid: deterministicUid(`complete-late-${n}`),
        seriesNumber: 4,
        instanceNumber: n,
        seriesDescription: 'COR T2 TSE',
        overrides: { '00200037': ['DS', ['1', '0', '0', '0', '0', '-1']] },
      }),
    );
    const r = await storescu(node.dimsePort, late);
    assert.equal(r.code, 0, r.output);
    // A job still running when it is superseded keeps running and ends superseded (JobStore.finish): on a
    // loaded machine the first analysis may not have finished yet, so wait for it to end.
    let after = await waitForJobs(node, study.studyUid, 2);
    for (const end = Date.now() + 45000; after[0]?.state === 'running' && Date.now() < end; await sleep(200)) {
      assert.equal(after[0]!.supersededBy, after[1]!.id, 'a running job is marked superseded_by at once');
      after = await analysisJobs(node, study.studyUid);
    }
    assert.equal(after.length, 2);
    const [old, fresh] = after as [JobView, JobView];
    assert.equal(old.id, first.id);
    assert.equal(old.state, 'superseded');
    assert.equal(old.supersededBy, fresh.id);
    assert.equal(fresh.generation, 1);
    assert.equal(fresh.parentJobId, first.id);
    assert.ok(ACTIVE.includes(fresh.state), fresh.state);
    const freshDetail = (await (await node.api(`/api/v1/jobs/${fresh.id}`)).json()) as JobView;
    assert.equal(freshDetail.payload?.trigger, 'late-instances');
    assert.deepEqual(
      jobRows(node, study.studyUid).map((j) => [j.generation, ACTIVE.includes(j.state) ? 'active' : j.state, j.parent_job_id, j.superseded_by]),
      [
        [0, 'superseded', null, fresh.id],
        [1, 'active', first.id, null],
      ],
    );
    // Re-sending the same study changes nothing (duplicates never re-open it).
    assert.equal((await storescu(node.dimsePort, study.files)).code, 0);
    await sleep(2500);
    assert.equal((await analysisJobs(node, study.studyUid)).length, 2);
  });
});
