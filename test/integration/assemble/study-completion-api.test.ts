import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { indexSeries, type TestSeriesKind } from '../../helpers/instance-seam';
import type { JobCreatedEvent } from '../../../src/assemble/study-assembler';

const STUDY = '1.2.826.0.1.3680043.8.498.2001';
const FAST = { localAeTitles: [{ aeTitle: 'NPCAI', completion: { quietSeconds: 1, forceCompleteSeconds: 4 } }] };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 15000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** One "association": indexes a series and announces it the way the instance store does. */
function send(node: TestNode, kind: TestSeriesKind, seriesNumber: number, opts: { study?: string; announce?: boolean; count?: number } = {}) {
  const events = indexSeries(node.db, {
    studyInstanceUid: opts.study ?? STUDY,
    kind,
    seriesNumber,
    count: opts.count,
    receivedAt: () => new Date().toISOString(),
  });
  if (opts.announce !== false) for (const e of events) node.assembler.onInstanceStored(e);
}

async function json<T>(r: Response | Promise<Response>): Promise<T> {
  const res = await r;
  assert.ok(res.ok, `HTTP ${res.status}: ${await res.clone().text()}`);
  return (await res.json()) as T;
}

interface JobView {
  id: number;
  kind: string;
  state: string;
  generation: number;
  parentJobId: number | null;
  supersededBy: number | null;
  history?: { from: string | null; to: string; note?: string }[];
}

describe('study completion through a running node', () => {
  let node: TestNode;
  afterEach(async () => node?.cleanup());

  it('gives one analysis job for a study sent over three associations a few hundred ms apart, and shows it in the API', async () => {
    node = await startTestNode(FAST);
    const created: JobCreatedEvent[] = [];
    node.assembler.on('job-created', (e: JobCreatedEvent) => created.push(e));
    send(node, 't1', 1);
    await sleep(400);
    send(node, 't2', 2);
    await sleep(400);
    send(node, 'localizer', 3, { count: 2 });
    send(node, 'ce-t1', 4);
    const receiving = await json<{ state: string; missingRoles: string[]; nextDecisionAt: string | null }>(node.api(`/api/v1/studies/${STUDY}`));
    assert.equal(receiving.state, 'receiving');
    assert.ok(receiving.nextDecisionAt);
    await waitFor('the job', () => (created.length ? created : undefined));
    await sleep(1500);
    assert.equal(created.length, 1);
    const jobs = await json<JobView[]>(node.api(`/api/v1/jobs?study=${STUDY}&kind=analysis`));
    assert.equal(jobs.length, 1);
    assert.ok(['queued', 'running', 'done'].includes(jobs[0]!.state), jobs[0]!.state);

    const list = await node.api('/api/v1/studies');
    assert.equal(list.headers.get('x-total-count'), '1');
    const [row] = (await list.json()) as { studyInstanceUid: string; calledAeTitle: string; state: string; seriesCount: number; instanceCount: number; patientId: string }[];
    assert.equal(row!.studyInstanceUid, STUDY);
    assert.equal(row!.calledAeTitle, 'NPCAI');
    assert.equal(row!.state, 'complete');
    assert.equal(row!.seriesCount, 4);
    assert.equal(row!.instanceCount, 14);

    const detail = await json<{ series: { seriesDescription: string; instanceCount: number; role: string | null }[]; roles: Record<string, string>; missingRoles: string[]; jobs: JobView[]; completionReason: string }>(
      node.api(`/api/v1/studies/${STUDY}`),
    );
    assert.equal(detail.completionReason, 'quiet');
    assert.deepEqual(detail.missingRoles, []);
    assert.deepEqual(detail.series.map((s) => [s.seriesDescription, s.instanceCount, s.role]), [
      ['T1_TSE_TRA', 4, 't1'],
      ['T2_TSE_TRA', 4, 't2'],
      ['localizer', 2, null],
      ['T1_TSE_TRA+C', 4, 'ce-t1'],
    ]);
    assert.deepEqual(detail.jobs.map((j) => j.id), [jobs[0]!.id]);
  });

  it('re-analyses after a late series: a new job whose parent is the first, which the API shows superseded', async () => {
    node = await startTestNode(FAST);
    send(node, 't1', 1);
    send(node, 't2', 2);
    send(node, 'ce-t1', 3);
    const first = await waitFor('first job', async () => (await json<JobView[]>(node.api(`/api/v1/jobs?study=${STUDY}`)))[0]);
    send(node, 't2', 8); // late series after completion
    const second = await waitFor('re-analysis', async () => {
      const all = await json<JobView[]>(node.api(`/api/v1/jobs?study=${STUDY}&kind=analysis`));
      return all.length === 2 ? all[0] : undefined;
    });
    assert.equal(second.generation, 1);
    assert.equal(second.parentJobId, first.id);
    // Superseded while still running, it keeps running and ends superseded: wait for it to end.
    const old = await waitFor('the first job to end', async () => {
      const j = await json<JobView>(node.api(`/api/v1/jobs/${first.id}`));
      return j.state === 'running' ? undefined : j;
    }, 45000);
    assert.equal(old.state, 'superseded');
    assert.equal(old.supersededBy, second.id);
    assert.equal(old.history!.at(-1)!.to, 'superseded');
    const study = await json<{ generation: number; state: string }>(node.api(`/api/v1/studies/${STUDY}`));
    assert.equal(study.generation, 1);
    assert.equal(study.state, 'complete');
  });

  it('after a crash between indexing and the event, a restart completes the study once', async () => {
    const t = tempDir('npcai-restart-');
    try {
      node = await startTestNode(FAST, { dataDir: t.dir });
      send(node, 't1', 1);
      send(node, 't2', 2, { announce: false });
      send(node, 'ce-t1', 3, { announce: false });
      await node.stop();
      node = await startTestNode(FAST, { dataDir: t.dir });
      const job = await waitFor('job after restart', async () => (await json<JobView[]>(node.api(`/api/v1/jobs?study=${STUDY}`)))[0]);
      await sleep(1500);
      const jobs = await json<JobView[]>(node.api(`/api/v1/jobs?study=${STUDY}`));
      assert.deepEqual(jobs.map((j) => j.id), [job.id]);
      const detail = await json<{ instanceCount: number; missingRoles: string[] }>(node.api(`/api/v1/studies/${STUDY}`));
      assert.equal(detail.instanceCount, 12);
      assert.deepEqual(detail.missingRoles, []);
      await node.stop();
      node = await startTestNode(FAST, { dataDir: t.dir });
      await sleep(1500);
      assert.equal((await json<JobView[]>(node.api(`/api/v1/jobs?study=${STUDY}`))).length, 1, 'another restart adds nothing');
    } finally {
      await node.stop();
      t.cleanup();
    }
  });

  it('pages the study list and refuses bad parameters with a 4xx message', async () => {
    node = await startTestNode(FAST);
    for (let i = 0; i < 3; i++) send(node, 't1', 1, { study: `1.2.3.${i}`, count: 1 });
    const page = await node.api('/api/v1/studies?limit=2&offset=1');
    assert.equal(page.headers.get('x-total-count'), '3');
    assert.equal(((await page.json()) as unknown[]).length, 2);
    assert.equal((await node.api('/api/v1/studies?limit=0')).status, 400);
    assert.equal((await node.api('/api/v1/studies?state=done')).status, 400);
    assert.equal((await node.api('/api/v1/studies/not-a-uid')).status, 400);
    assert.equal((await node.api('/api/v1/studies/1.2.3.4.5')).status, 404);
    assert.equal((await node.api('/api/v1/studies/1.2.3.0?aeTitle=OTHER')).status, 404);
    assert.equal((await node.api('/api/v1/studies/1.2.3.0?aeTitle=NPCAI')).status, 200);
  });

  it('retries failed jobs (analysis re-queued, other kinds through their handler), 409 otherwise, 404 unknown', async () => {
    node = await startTestNode(FAST);
    const analysis = node.jobs.createAnalysisJob({ studyInstanceUid: STUDY, calledAeTitle: 'NPCAI', generation: 0 });
    let r = await node.api(`/api/v1/jobs/${analysis.id}/retry`, { method: 'POST' });
    assert.equal(r.status, 409);
    assert.match(((await r.json()) as { error: string }).error, /queued/);
    node.jobs.claimNext('analysis');
    node.jobs.fail(analysis.id, 'model failed', false);
    const failedView = await json<JobView & { error: string }>(node.api(`/api/v1/jobs/${analysis.id}`));
    assert.equal(failedView.state, 'dead');
    assert.equal(failedView.error, 'model failed');
    assert.equal((await json<JobView[]>(node.api('/api/v1/jobs?state=dead'))).length, 1);
    const retried = await json<JobView>(node.api(`/api/v1/jobs/${analysis.id}/retry`, { method: 'POST' }));
    assert.equal(retried.state, 'queued');
    assert.equal(retried.history!.at(-1)!.note, 'retry requested through the admin API');

    const delivery = node.jobs.create({ kind: 'delivery', studyInstanceUid: STUDY, parentJobId: analysis.id, destination: 'pacs1' });
    node.jobs.claimNext('delivery');
    node.jobs.fail(delivery.id, 'association rejected', true);
    const calls: number[] = [];
    node.retryHandlers.delivery = (id) => {
      calls.push(id);
      node.jobs.retry(id, 'delivery retry');
    };
    const d = await json<JobView>(node.api(`/api/v1/jobs/${delivery.id}/retry`, { method: 'POST' }));
    assert.deepEqual(calls, [delivery.id]);
    assert.equal(d.state, 'queued');

    assert.equal((await node.api('/api/v1/jobs/999999/retry', { method: 'POST' })).status, 404);
    assert.equal((await node.api('/api/v1/jobs/999999')).status, 404);
    assert.equal((await node.api('/api/v1/jobs/abc')).status, 400);
    assert.equal((await node.api('/api/v1/jobs?state=bogus')).status, 400);
    assert.equal((await fetch(`http://127.0.0.1:${node.httpPort}/api/v1/jobs`)).status, 401);
  });
});
