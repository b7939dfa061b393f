/**
 * The priors stage wired into a running node, with Orthanc as the PACS: Orthanc holds both studies of a
 * generated patient (src/synth --with-followup) and sends the post-treatment one to the node; the node
 * fetches the pre-treatment one (C-FIND + C-MOVE; QIDO-RS + WADO-RS) as soon as the study completes and the
 * progression analysis uses it: the job result and the SR at Orthanc name the prior study. The prior gets
 * no analysis job and no delivery of its own. The progression numbers are the same as when the node had
 * both studies in its store. Failure paths end "not assessable" with the reason: no prior (another patient
 * with the same name), a prior of another patient (same PatientID, other birth date), the PACS down.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { data as dcmjsData } from 'dcmjs';
import { freePort, orthancGetTags, orthancListInstances, orthancRest, orthancSendStudy, orthancUpload, startOrthanc, type Orthanc } from '../../helpers/orthanc';
import { writeSyntheticPatient, type SyntheticStudy } from '../../helpers/synthetic-study';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { waitFor } from '../../helpers/wait-for';
import { storescu } from '../../helpers/dicom-peers';
import type { Job } from '../../../src/jobs/job-store';

const FIXTURE_MODELS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'models');

interface ProgressionResult {
  analysis: 'progression';
  assessable: boolean;
  reason?: string;
  probability?: number;
  value?: string;
  components?: { pre: number; post: number };
  priorStudy?: { studyInstanceUid: string; studyDate?: string; source: 'store' | 'pacs' };
}

describe('prior retrieval wired into the node: progression with the prior from Orthanc', function () {
  this.timeout(300_000);
  let work: ReturnType<typeof tempDir>;
  let orthanc: Orthanc;
  let patient: SyntheticStudy;
  let pre: { uid: string; date: string; count: number };
  let post: { uid: string; date: string };
  let node: TestNode | undefined;
  /** The progression result of each run, to compare the numbers. */
  const runs: Record<string, ProgressionResult> = {};

  before(async () => {
    work = tempDir('npcai-priors-wired-');
    patient = await writeSyntheticPatient(path.join(work.dir, 'synth'), 4242, { withFollowup: true });
    const studies = (patient.labels as { studies: { label: string; StudyInstanceUID: string; StudyDate: string }[] }).studies;
    const p = studies.find((s) => s.label === 'pre')!;
    const q = studies.find((s) => s.label === 'post')!;
    orthanc = await startOrthanc({ aeTitle: 'ORTHANC' });
    for (const label of ['pre', 'post'] as const) for (const f of await patient.files({ study: label })) await orthancUpload(orthanc, readFileSync(f));
    pre = { uid: p.StudyInstanceUID, date: p.StudyDate, count: (await orthancListInstances(orthanc, p.StudyInstanceUID)).length };
    post = { uid: q.StudyInstanceUID, date: q.StudyDate };
    assert.ok(pre.date < post.date && pre.count > 10, 'Orthanc holds the pre-treatment study, dated before the post-treatment one');
  });

  afterEach(async () => {
    await node?.cleanup();
    node = undefined;
    // What the node delivered to Orthanc (SR, heat maps) goes again, so the next send is the MR study only.
    for (const i of await orthancListInstances(orthanc)) {
      const tags = await orthancGetTags(orthanc, i.id);
      if (tags.Modality !== 'MR') await orthancRest(orthanc, `/instances/${i.id}`, { method: 'DELETE' });
    }
  });

  after(async () => {
    await orthanc?.cleanup();
    work?.cleanup();
  });

  async function start(destinations: unknown[], localAeTitles: Record<string, unknown>[]): Promise<TestNode> {
    node = await startTestNode({
      models: { dir: FIXTURE_MODELS },
      sources: [{ aeTitle: 'ORTHANC', host: '127.0.0.1' }],
      destinations,
      // Only the progression analysis (the one that needs the prior): keeps the test short.
      localAeTitles: localAeTitles.map((a) => ({ analyses: ['progression'], ...a })),
      delivery: { maxAttempts: 2, initialBackoffSeconds: 0.2, maxBackoffSeconds: 1, responseTimeoutSeconds: 20 },
    });
    return node;
  }

  const completion = { quietSeconds: 1, forceCompleteSeconds: 60 };

  async function analysisDone(n: TestNode, studyUid: string, what: string): Promise<Job> {
    return waitFor(() => n.jobs.list({ kind: 'analysis', study: studyUid }).find((j) => j.state === 'done'), what, 150_000);
  }

  function progressionOf(job: Job): ProgressionResult {
    const r = (job.result as { results: ProgressionResult[] }).results.find((x) => x.analysis === 'progression');
    assert.ok(r, 'the job result has a progression result');
    return r;
  }

  /** The prior was recorded (complete, flagged) and started no analysis and no delivery of its own. */
  async function priorMadeNoJobs(n: TestNode): Promise<void> {
    const rec = await waitFor(() => n.assembler.studies.receptionsOf(pre.uid).find((s) => s.state === 'complete'), 'the prior study completes', 30_000);
    assert.equal(rec.prior, true, 'the study row says it is a prior');
    assert.deepEqual(n.jobs.list({ study: pre.uid }), [], 'no analysis job and no delivery for the prior');
    assert.equal(n.instances.listStudyInstances(pre.uid).length, pre.count, 'every instance of the prior is in the store');
  }

  function assertUsedPrior(r: ProgressionResult, source: 'store' | 'pacs'): void {
    assert.equal(r.assessable, true, `progression assessable: ${r.reason ?? ''}`);
    assert.deepEqual(r.priorStudy, { studyInstanceUid: pre.uid, studyDate: pre.date, source }, 'the result names the prior study it used');
  }

  /** Content items of an SR (Orthanc's simplified tags) with the given concept code value, anywhere in the tree. */
  function srItems(node: unknown, code: string, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
    if (Array.isArray(node)) for (const x of node) srItems(x, code, out);
    else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      const cn = o.ConceptNameCodeSequence as { CodeValue?: string }[] | undefined;
      if (cn?.[0]?.CodeValue === code) out.push(o);
      for (const v of Object.values(o)) if (typeof v === 'object') srItems(v, code, out);
    }
    return out;
  }

  it('C-FIND + C-MOVE: the node fetches the prior and assesses progression with it; the SR at Orthanc names the prior', async () => {
    const n = await start(
      [{ name: 'pacs', type: 'dimse', aeTitle: 'ORTHANC', host: '127.0.0.1', port: orthanc.dicomPort }],
      [{ aeTitle: 'NPCAI', destinations: ['pacs'], completion, priors: { from: ['pacs'], deadlineSeconds: 120 } }],
    );
    // Registers the node as modality NPCAI in Orthanc (C-FIND caller and C-MOVE destination), then sends.
    await orthancSendStudy(orthanc, { aeTitle: 'NPCAI', host: '127.0.0.1', port: n.dimsePort }, post.uid);
    const job = await analysisDone(n, post.uid, 'analysis of the post-treatment study');
    const r = progressionOf(job);
    assertUsedPrior(r, 'pacs');
    runs['c-move'] = r;
    await priorMadeNoJobs(n);
    // The SR reaches Orthanc and names the prior study (UIDREF and date), in the progression group.
    await waitFor(() => n.jobs.list({ kind: 'delivery', study: post.uid }).every((j) => j.state === 'done') && n.jobs.list({ kind: 'delivery', study: post.uid }).length > 0 ? true : undefined, 'delivery', 60_000);
    const srs = [];
    for (const i of await orthancListInstances(orthanc, post.uid)) {
      const t = await orthancGetTags(orthanc, i.id);
      if (t.Modality === 'SR') srs.push(t);
    }
    assert.equal(srs.length, 1, 'one SR at Orthanc');
    const [uidItem] = srItems(srs[0], 'NPC-PRIOR-UID');
    assert.equal(uidItem?.UID, pre.uid, 'the SR names the prior study instance UID');
    const [dateItem] = srItems(srs[0], 'NPC-PRIOR-DATE');
    assert.equal(dateItem?.TextValue, `${pre.date.slice(0, 4)}-${pre.date.slice(4, 6)}-${pre.date.slice(6, 8)}`);
    assert.equal((await orthancListInstances(orthanc, pre.uid)).length, pre.count, 'nothing was delivered into the prior study');
    const metrics = await (await n.api('/metrics')).text();
    assert.match(metrics, /npcai_prior_queries_total\{source_type="dimse",result="ok"\} 1/);
    assert.match(metrics, /npcai_prior_retrievals_total\{result="ok",method="c-move"\} 1/);
    assert.match(metrics, new RegExp(`npcai_prior_instances_retrieved_total\\{method="c-move"\\} ${pre.count}`));
    assert.match(metrics, /npcai_prior_retrieval_seconds_count 1/);
  });

  it('QIDO-RS + WADO-RS: the same prior, the same progression numbers', async () => {
    const n = await start(
      [{ name: 'pacs-web', type: 'dicomweb', url: orthanc.dicomWebUrl }],
      [{ aeTitle: 'NPCAI', completion, priors: { from: ['pacs-web'], deadlineSeconds: 120 } }],
    );
    await orthancSendStudy(orthanc, { aeTitle: 'NPCAI', host: '127.0.0.1', port: n.dimsePort }, post.uid);
    const r = progressionOf(await analysisDone(n, post.uid, 'analysis of the post-treatment study'));
    assertUsedPrior(r, 'pacs');
    runs['wado-rs'] = r;
    await priorMadeNoJobs(n);
    assert.match(await (await n.api('/metrics')).text(), /npcai_prior_retrievals_total\{result="ok",method="wado-rs"\} 1/);
  });

  it('golden numbers: the progression result is identical whether the prior was in the store or fetched', async () => {
    const n = await start([], [{ aeTitle: 'NPCAI', completion }]);
    // Both studies reach the node the ordinary way (no priors source): the prior is taken from the store.
    await orthancSendStudy(orthanc, { aeTitle: 'NPCAI', host: '127.0.0.1', port: n.dimsePort }, pre.uid);
    await waitFor(() => n.assembler.studies.receptionsOf(pre.uid)[0], 'the pre-treatment study is recorded');
    await orthancSendStudy(orthanc, { aeTitle: 'NPCAI', host: '127.0.0.1', port: n.dimsePort }, post.uid);
    const r = progressionOf(await analysisDone(n, post.uid, 'analysis of the post-treatment study'));
    assertUsedPrior(r, 'store');
    for (const fetched of ['c-move', 'wado-rs']) {
      const f = runs[fetched];
      assert.ok(f, `the ${fetched} run produced a result`);
      assert.equal(f.probability, r.probability, `${fetched}: same probability`);
      assert.equal(f.value, r.value, `${fetched}: same risk group`);
      assert.deepEqual(f.components, r.components, `${fetched}: same pre/post model scores`);
    }
  });

  /** The post study's files with some attributes replaced and new Study/Series/SOP Instance UIDs. */
  async function rewrittenPost(tag: string, replace: Record<string, { vr: string; Value: unknown[] }>): Promise<{ files: string[]; studyUid: string }> {
    const dir = path.join(work.dir, tag);
    mkdirSync(dir, { recursive: true });
    const uid = (u: string) => `2.25.${BigInt(`0x${createHash('sha256').update(`${tag}|${u}`).digest('hex').slice(0, 30)}`).toString()}`;
    const files: string[] = [];
    let studyUid = '';
    for (const f of await patient.files({ study: 'post' })) {
      const buf = readFileSync(f);
      const dict = dcmjsData.DicomMessage.readFile(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
      const ds = dict.dict as Record<string, { vr: string; Value: unknown[] }>;
      const meta = dict.meta as Record<string, { vr: string; Value: unknown[] }>;
      for (const t of ['0020000D', '0020000E', '00080018']) ds[t] = { vr: 'UI', Value: [uid(String(ds[t]!.Value[0]))] };
      meta['00020003'] = { vr: 'UI', Value: [ds['00080018']!.Value[0]] };
      Object.assign(ds, replace);
      studyUid = String(ds['0020000D']!.Value[0]);
      const out = path.join(dir, path.basename(f));
      writeFileSync(out, Buffer.from(dict.write()));
      files.push(out);
    }
    return { files, studyUid };
  }

  it('failure paths end "not assessable" with the reason: no prior (another patient, same name), another patient\'s prior, the PACS down', async () => {
    const dead = await freePort();
    const n = await start(
      [
        { name: 'pacs', type: 'dimse', aeTitle: 'ORTHANC', host: '127.0.0.1', port: orthanc.dicomPort },
        { name: 'down', type: 'dimse', aeTitle: 'ORTHANC', host: '127.0.0.1', port: dead },
      ],
      [
        // storescu's studies complete by the force timer here (not by quiet time as Orthanc's do), so keep it short.
        { aeTitle: 'NPCAI', completion: { quietSeconds: 1, forceCompleteSeconds: 8 }, priors: { from: ['pacs'], deadlineSeconds: 120 } },
        { aeTitle: 'NPCDOWN', completion, priors: { from: ['down'], deadlineSeconds: 120 } },
      ],
    );
    // The PACS knows the node (C-FIND from NPCAI).
    await orthancRest(orthanc, '/modalities/peer-npcai', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ AET: 'NPCAI', Host: '127.0.0.1', Port: n.dimsePort }) });
    // 1. Another patient with the same name (the post study under another PatientID and new UIDs): the
    //    PACS has no other study of that patient, so the namesake's prior is never used.
    const namesake = await rewrittenPost('namesake', { '00100020': { vr: 'LO', Value: [`${patient.patientId}-B`] } });
    const sentNamesake = await storescu(n.dimsePort, namesake.files, { aet: 'ORTHANC', aec: 'NPCAI' });
    assert.equal(sentNamesake.code, 0, sentNamesake.output);
    const none = progressionOf(await analysisDone(n, namesake.studyUid, 'analysis of the namesake\'s study'));
    assert.equal(none.assessable, false);
    assert.match(none.reason!, /no other MR study of this patient/, none.reason);

    // 2. A prior of another patient: the same PatientID with another birth date.
    const other = await rewrittenPost('other-birth-date', { '00100030': { vr: 'DA', Value: ['19000101'] } });
    const sent = await storescu(n.dimsePort, other.files, { aet: 'ORTHANC', aec: 'NPCAI' });
    assert.equal(sent.code, 0, sent.output);
    const mismatch = progressionOf(await analysisDone(n, other.studyUid, 'analysis of the study with another birth date'));
    assert.equal(mismatch.assessable, false);
    assert.match(mismatch.reason!, /another patient/, mismatch.reason);
    assert.equal(n.instances.listStudyInstances(pre.uid).length, 0, 'the other patient\'s study was not fetched');

    // 3. The PACS down (a destination whose port nobody listens on).
    await orthancSendStudy(orthanc, { aeTitle: 'NPCDOWN', host: '127.0.0.1', port: n.dimsePort }, post.uid);
    const down = await waitFor(() => n.jobs.list({ kind: 'analysis', study: post.uid, calledAeTitle: 'NPCDOWN' }).find((j) => j.state === 'done'), 'analysis with the PACS down', 150_000);
    const unreachable = progressionOf(down);
    assert.equal(unreachable.assessable, false);
    assert.match(unreachable.reason!, /could not be reached/, unreachable.reason);
    const metrics = await (await n.api('/metrics')).text();
    assert.match(metrics, /npcai_prior_retrievals_total\{result="no-match",method="none"\} 1/);
    assert.match(metrics, /npcai_prior_retrievals_total\{result="patient-mismatch",method="none"\} 1/);
    assert.match(metrics, /npcai_prior_retrievals_total\{result="pacs-unreachable",method="none"\} 1/);
  });

  it('PUT /api/v1/ae-titles accepts priors and refuses a source that is no destination', async () => {
    const n = await start([{ name: 'pacs', type: 'dimse', aeTitle: 'ORTHANC', host: '127.0.0.1', port: orthanc.dicomPort, retrieve: 'c-get' }], [{ aeTitle: 'NPCAI' }]);
    const bad = await n.api('/api/v1/ae-titles/NPCAI', { method: 'PUT', body: JSON.stringify({ priors: { from: ['nowhere'] } }) });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /priors\.from: unknown destination\(s\): nowhere/);
    const ok = await n.api('/api/v1/ae-titles/NPCAI', { method: 'PUT', body: JSON.stringify({ priors: { from: ['pacs'], lookbackDays: 365 } }) });
    assert.equal(ok.status, 200);
    assert.deepEqual(((await ok.json()) as { priors: unknown }).priors, { from: ['pacs'], lookbackDays: 365, deadlineSeconds: 600, analyse: false });
    assert.equal(n.settings.aeTitles.get('NPCAI')?.priors.lookbackDays, 365, 'persisted');
    const range = await n.api('/api/v1/ae-titles/NPCAI', { method: 'PUT', body: JSON.stringify({ priors: { from: [], lookbackDays: 0 } }) });
    assert.equal(range.status, 400);
    const del = await n.api('/api/v1/destinations/pacs', { method: 'DELETE' });
    assert.equal(del.status, 409, 'a destination used as a priors source cannot be deleted');
  });
});
