/**
 * The web page's study view and the admin routes it reads, against a running node that analysed a synthetic
 * study (CPU, tiny fixture models) and delivered it to DCMTK storescp (and to a destination that is down):
 * search by accession number / study date / UID, heat maps as PNG, PatientName only when turned on,
 * force-complete (200 / 404 / 409, the analysis job created), and a headless-Chromium screenshot of the page
 * (web-study-view.png under $SCREENSHOT_DIR, e.g. docs/images).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startTestNode, TEST_TOKEN, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { echoscu, storescu } from '../../helpers/dicom-peers';
import { freePort } from '../../helpers/orthanc';
import { writeSyntheticPatient, type SyntheticStudy } from '../../helpers/synthetic-study';
import { waitFor } from '../../helpers/wait-for';
import { CHROMIUM } from '../../helpers/ohif';
import { personNameText } from '../../../src/admin/routes/patient-name';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const FIXTURE_MODELS = path.join(ROOT, 'test', 'fixtures', 'models');
/** docs/images when SCREENSHOT_DIR=docs/images is set (to renew the committed pictures), else a temp dir: a test run never rewrites tracked files. */
const SCREENSHOT = path.join(
  process.env.SCREENSHOT_DIR ? path.resolve(process.env.SCREENSHOT_DIR) : mkdtempSync(path.join(os.tmpdir(), 'npcai-web-shots-')),
  'web-study-view.png',
);

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

describe('web page study view and its admin routes', function () {
  this.timeout(300_000);
  let node: TestNode;
  let t: ReturnType<typeof tempDir>;
  let scp: ChildProcess | undefined;
  let full: SyntheticStudy;
  let partial: SyntheticStudy;
  let accession: string;
  let studyDate: string;
  const json = async (p: string, init?: RequestInit): Promise<Json> => (await node.api(p, init)).json();
  const anon = (p: string, init?: RequestInit) => fetch(`http://127.0.0.1:${node.httpPort}${p}`, init);

  before(async () => {
    t = tempDir('npcai-webview-');
    const pacsPort = await freePort();
    const downPort = await freePort();
    mkdirSync(path.join(t.dir, 'scp'));
    scp = spawn('storescp', ['-od', path.join(t.dir, 'scp'), '-aet', 'PACS', String(pacsPort)], { stdio: 'ignore' });
    await waitFor(async () => ((await echoscu(pacsPort, { aec: 'PACS' })).code === 0 ? true : undefined), 'storescp', 20_000);
    full = await writeSyntheticPatient(path.join(t.dir, 'full'), 4242);
    partial = await writeSyntheticPatient(path.join(t.dir, 'partial'), 778);
    node = await startTestNode({
      models: { dir: FIXTURE_MODELS },
      dimse: { allowUnknownSources: true },
      delivery: { initialBackoffSeconds: 30, maxBackoffSeconds: 60, responseTimeoutSeconds: 5 },
      destinations: [
        { name: 'PACS', type: 'dimse', aeTitle: 'PACS', host: '127.0.0.1', port: pacsPort },
        { name: 'ARCHIVE', type: 'dimse', aeTitle: 'ARCHIVE', host: '127.0.0.1', port: downPort },
      ],
      localAeTitles: [{ aeTitle: 'NPCAI', destinations: ['PACS', 'ARCHIVE'], completion: { quietSeconds: 1, forceCompleteSeconds: 3600 } }],
    });
    assert.equal((await storescu(node.dimsePort, await full.files())).code, 0);
    // Without CE-T1 completion waits for force-complete (an hour here).
    assert.equal((await storescu(node.dimsePort, await partial.files({ withoutRoles: ['ce-t1', 'cor-ce-t1'] }))).code, 0);
    await waitFor(async () => {
      const r = await json(`/api/v1/studies/${full.studyInstanceUid}/results`);
      return r.analysisJob?.state === 'done' && r.deliveries.some((d: Json) => d.destination === 'PACS' && d.state === 'done') ? r : undefined;
    }, 'the analysed and delivered study', 150_000, 500);
    const header = node.instances.listStudyInstances(full.studyInstanceUid)[0]!.header;
    accession = String(header.AccessionNumber);
    studyDate = String(header.StudyDate);
  });

  after(async () => {
    scp?.kill('SIGTERM');
    await node?.cleanup();
    t?.cleanup();
  });

  it('answers 401 without the token on every new route', async () => {
    const uid = full.studyInstanceUid;
    for (const [method, p] of [
      ['GET', `/api/v1/studies/${uid}/results`],
      ['GET', `/api/v1/studies/${uid}/results/1.2.3.png`],
      ['POST', `/api/v1/studies/${uid}/complete`],
      ['GET', '/api/v1/settings/web'],
      ['PUT', '/api/v1/settings/web'],
    ] as const) {
      assert.equal((await anon(p, { method })).status, 401, `${method} ${p}`);
    }
  });

  it('answers 404 for an unknown study and an unknown result object', async () => {
    for (const p of ['/api/v1/studies/1.2.3.999/results', '/api/v1/studies/1.2.3.999/results/1.2.3.png', '/api/v1/studies/1.2.3.999']) {
      const r = await node.api(p);
      assert.equal(r.status, 404, p);
      assert.match(((await r.json()) as Json).error, /no study 1\.2\.3\.999/);
    }
    assert.equal((await node.api(`/api/v1/studies/${full.studyInstanceUid}/results/1.2.3.4.png`)).status, 404);
    assert.equal((await node.api('/api/v1/studies/not-a-uid/results')).status, 400);
  });

  it('finds studies by accession number, study date and StudyInstanceUID', async () => {
    const uids = async (q: string) => ((await json(`/api/v1/studies?${q}`)) as Json[]).map((s) => s.studyInstanceUid);
    assert.deepEqual(await uids(`accessionNumber=${encodeURIComponent(accession)}`), [full.studyInstanceUid]);
    assert.deepEqual(await uids('accessionNumber=NOSUCH'), []);
    assert.ok((await uids(`studyDate=${studyDate}`)).includes(full.studyInstanceUid));
    const d = `${studyDate.slice(0, 4)}-${studyDate.slice(4, 6)}-${studyDate.slice(6)}`;
    assert.ok((await uids(`studyDate=${d}-`)).includes(full.studyInstanceUid), 'an open range with dashed dates');
    assert.deepEqual(await uids('studyDate=19000101-19001231'), []);
    assert.deepEqual(await uids(`studyInstanceUid=${partial.studyInstanceUid}`), [partial.studyInstanceUid]);
    const list = (await json(`/api/v1/studies?studyInstanceUid=${full.studyInstanceUid}`)) as Json[];
    assert.equal(list[0].accessionNumber, accession);
    assert.equal(list[0].studyDate, studyDate);
    assert.equal((await node.api('/api/v1/studies?studyDate=2024')).status, 400);
  });

  it('shows the answers with cut-off and inputs, heat maps as PNG, the key-slice overlay and delivery per destination', async () => {
    const r = await json(`/api/v1/studies/${full.studyInstanceUid}/results`);
    const stage = r.results.find((x: Json) => x.analysis === 'stage');
    assert.equal(stage.assessable, true);
    assert.ok(stage.models.length >= 1 && stage.models.every((m: Json) => m.id && m.version && m.provider === 'cpu'));
    assert.ok(stage.inputs.series.length >= 1 && stage.inputs.series.every((s: Json) => s.role && s.rule));
    assert.match(stage.statement, /research use/i);
    assert.ok(r.results.some((x: Json) => x.cutoff !== null && x.cutoff !== undefined), 'a risk analysis has its cut-off');
    assert.equal(r.results.find((x: Json) => x.analysis === 'progression').assessable, false);
    assert.equal(r.heatMaps.length, 4);
    for (const h of r.heatMaps) {
      const res = await node.api(h.png);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/png');
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 512, 512, 3]);
    }
    const sr = r.objects.find((o: Json) => o.kind === 'sr');
    assert.equal((await node.api(`/api/v1/studies/${full.studyInstanceUid}/results/${sr.sopInstanceUid}.png`)).status, 415, 'an SR is no image');
    assert.ok(r.overlay, 'key-slice overlay');
    assert.equal(r.overlay.source, r.objects.some((o: Json) => o.kind === 'seg') ? 'seg' : 'localiser-region');
    assert.ok(r.overlay.outlines.length >= 1);
    assert.ok(r.heatMaps.some((h: Json) => h.sopInstanceUid === r.overlay.heatMapSopInstanceUid));
    const byDest = new Map(r.deliveries.map((d: Json) => [d.destination, d]));
    assert.equal((byDest.get('PACS') as Json).state, 'done');
    assert.equal((byDest.get('PACS') as Json).sent, (byDest.get('PACS') as Json).total);
    assert.notEqual((byDest.get('ARCHIVE') as Json).state, 'done', 'the destination that is down is not done');
  });

  it('explains the series roles and what completion waits for', async () => {
    const s = await json(`/api/v1/studies/${full.studyInstanceUid}`);
    assert.deepEqual(s.series.filter((x: Json) => x.role).map((x: Json) => x.role).sort(), ['ce-t1', 't1', 't2']);
    assert.ok(s.series.filter((x: Json) => x.role).every((x: Json) => x.selectionRule));
    assert.ok(s.series.filter((x: Json) => !x.role).every((x: Json) => x.notSelectedBecause.length > 0), 'each series without a role says why');
    const p = await json(`/api/v1/studies/${partial.studyInstanceUid}`);
    assert.equal(p.state, 'receiving');
    assert.deepEqual(p.missingRoles, ['ce-t1']);
    assert.match(p.missingRoleReasons['ce-t1'], /no .*series/);
    assert.ok(p.forceCompleteInSeconds > 3000 && p.forceCompleteInSeconds <= 3600, String(p.forceCompleteInSeconds));
  });

  it('leaves PatientName out unless web.showPatientNames is turned on', async () => {
    const name = personNameText(node.instances.listStudyInstances(full.studyInstanceUid)[0]!.header.PatientName);
    assert.ok(name, 'the synthetic study has a patient name');
    const body = async () => JSON.stringify([await json(`/api/v1/studies/${full.studyInstanceUid}`), await json('/api/v1/studies'), await json(`/api/v1/studies/${full.studyInstanceUid}/results`)]);
    assert.deepEqual(await json('/api/v1/settings/web'), { showPatientNames: false });
    let text = await body();
    assert.ok(!text.includes('patientName') && !text.includes('PatientName') && !text.includes(name!), 'no names by default');
    const put = await node.api('/api/v1/settings/web', { method: 'PUT', body: JSON.stringify({ showPatientNames: true }) });
    assert.equal(put.status, 200);
    assert.equal((await node.api('/api/v1/settings/web', { method: 'PUT', body: JSON.stringify({ showPatientNames: 'yes' }) })).status, 400);
    assert.equal((await node.api('/api/v1/settings/web', { method: 'PUT', body: '[true]' })).status, 400);
    assert.deepEqual(await json('/api/v1/settings/web'), { showPatientNames: true });
    assert.equal((await json(`/api/v1/studies/${full.studyInstanceUid}`)).patientName, name);
    assert.equal(((await json(`/api/v1/studies?studyInstanceUid=${full.studyInstanceUid}`)) as Json[])[0].patientName, name);
    await node.api('/api/v1/settings/web', { method: 'PUT', body: JSON.stringify({ showPatientNames: false }) });
    text = await body();
    assert.ok(!text.includes(name!));
  });

  it('renders the study view in headless Chromium (docs/images/web-study-view.png, web-study-receiving.png)', async function () {
    if (!existsSync(CHROMIUM)) this.skip();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('response', (r) => (r.status() >= 400 ? errors.push(`${r.status()} ${r.url()}`) : undefined));
      await page.addInitScript(`sessionStorage.setItem('npc-token', ${JSON.stringify(TEST_TOKEN)})`);
      await page.goto(`http://127.0.0.1:${node.httpPort}/#study/${full.studyInstanceUid}`);
      await page.waitForSelector('h2:has-text("Study")', { timeout: 30_000 });
      const expected = 5; // the key slice and four heat maps
      await page.waitForFunction((n) => [...(globalThis as Json).document.querySelectorAll('img')].filter((i: Json) => i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0).length >= n, expected, { timeout: 30_000 });
      const text = await page.textContent('#view');
      for (const want of ['Series', 'ce-t1', 'Results', 'Cut-off', 'Key slice', 'Heat maps', 'Delivery', 'PACS', 'ARCHIVE', 'research use']) assert.ok(text!.toLowerCase().includes(want.toLowerCase()), want);
      assert.ok(await page.$('svg[aria-label="key-slice outline"] path'), 'the outline is drawn');
      // Show one series' selection explanation in the picture.
      await page.click('#view details summary');
      assert.deepEqual(errors, []);
      mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      // Search by accession number from the Studies tab finds the study.
      await page.goto(`http://127.0.0.1:${node.httpPort}/#Studies`);
      await page.waitForSelector('#study-search');
      await page.fill('input[name=accessionNumber]', accession);
      await page.click('#study-search button');
      await page.waitForFunction(() => (globalThis as Json).document.querySelectorAll('#view table tr').length === 2, undefined, { timeout: 10_000 });
      assert.ok((await page.textContent('#view table'))!.includes(full.studyInstanceUid));
      // A study still receiving: what is missing and why, the countdown and the force-complete button.
      await page.goto(`http://127.0.0.1:${node.httpPort}/#study/${partial.studyInstanceUid}`);
      await page.waitForSelector('button[data-force]', { timeout: 30_000 });
      const receiving = await page.textContent('#view');
      assert.match(receiving!, /Force-complete in \d+ min/);
      assert.match(receiving!, /Missing roles/);
      assert.deepEqual(errors, []);
      await page.screenshot({ path: SCREENSHOT.replace('web-study-view', 'web-study-receiving') });
    } finally {
      await browser.close();
    }
  });
  it('force-completes a receiving study now (200 and the job), 409 when complete, 404 when unknown', async () => {
    const uid = partial.studyInstanceUid;
    const before = (await json(`/api/v1/jobs?kind=analysis&study=${uid}`)) as Json[];
    assert.equal(before.length, 0);
    const r = await node.api(`/api/v1/studies/${uid}/complete`, { method: 'POST' });
    assert.equal(r.status, 200);
    const b = (await r.json()) as Json;
    assert.match(b.message, /force-completed; analysis job \d+ queued/);
    assert.equal(b.job.kind, 'analysis');
    const jobs = (await json(`/api/v1/jobs?kind=analysis&study=${uid}`)) as Json[];
    assert.deepEqual(jobs.map((j) => j.id), [b.job.id]);
    const s = await json(`/api/v1/studies/${uid}`);
    assert.equal(s.state, 'complete');
    assert.equal(s.completionReason, 'forced');
    const again = await node.api(`/api/v1/studies/${uid}/complete`, { method: 'POST' });
    assert.equal(again.status, 409);
    assert.match(((await again.json()) as Json).error, /already complete/);
    assert.equal((await node.api('/api/v1/studies/1.2.3.999/complete', { method: 'POST' })).status, 404);
  });
});
