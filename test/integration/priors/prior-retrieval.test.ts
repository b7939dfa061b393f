/**
 * Prior retrieval against Orthanc 1.10 as the PACS: Orthanc holds the pre-treatment study of a generated
 * patient (src/synth, with follow-up); the node, holding the post-treatment study, finds the prior with
 * C-FIND and fetches it with C-MOVE (to a started test node's DIMSE listener), with C-GET, and with QIDO-RS +
 * WADO-RS into an InstanceStore. Failure paths: no match, another patient with the same name, another issuer,
 * the PACS down.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { openDatabase } from '../../../src/store/database';
import { InstanceStore } from '../../../src/store/instance-store';
import { silentLogger } from '../../../src/logging/logger';
import { TransferSyntax } from '../../../src/dicom/uids';
import { PriorRetrieval, type CurrentStudy, type PriorOutcome, type PriorSource, type PriorLimits } from '../../../src/priors';
import { orthancGetTags, orthancListInstances, orthancRest, orthancUpload, startOrthanc, type Orthanc } from '../../helpers/orthanc';
import { writeSyntheticPatient, type SyntheticStudy } from '../../helpers/synthetic-study';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import type { InstanceStoredEvent } from '../../../src/store/instance-types';
import { makePki } from '../../helpers/test-pki';

const FIXTURE_MODELS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'models');
const LIMITS: PriorLimits = { responseTimeoutSeconds: 20, maxAttempts: 2, initialBackoffSeconds: 0.1, maxBackoffSeconds: 0.2 };

describe('prior retrieval from Orthanc (C-FIND/C-MOVE/C-GET, QIDO-RS/WADO-RS)', function () {
  this.timeout(300_000);
  let work: ReturnType<typeof tempDir>;
  let orthanc: Orthanc;
  let patient: SyntheticStudy;
  let pre: { uid: string; date: string; sops: string[] };
  let post: CurrentStudy;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    work = tempDir('npcai-priors-');
    patient = await writeSyntheticPatient(path.join(work.dir, 'synth'), 4242, { withFollowup: true });
    const studies = (patient.labels as { studies: { label: string; StudyInstanceUID: string; StudyDate: string }[] }).studies;
    const preRec = studies.find((s) => s.label === 'pre')!;
    const postRec = studies.find((s) => s.label === 'post')!;
    assert.ok(preRec.StudyDate < postRec.StudyDate, 'the synthetic pre study is the earlier one');
    orthanc = await startOrthanc({ aeTitle: 'ORTHANC' });
    let firstId = '';
    for (const f of await patient.files({ study: 'pre' })) {
      const up = await orthancUpload(orthanc, readFileSync(f));
      firstId ||= up.ID;
    }
    const tags = await orthancGetTags(orthanc, firstId);
    pre = { uid: preRec.StudyInstanceUID, date: preRec.StudyDate, sops: (await orthancListInstances(orthanc, preRec.StudyInstanceUID)).map((i) => i.sopInstanceUid).sort() };
    assert.ok(pre.sops.length > 10, 'Orthanc holds the pre-treatment study');
    post = {
      StudyInstanceUID: postRec.StudyInstanceUID,
      PatientID: patient.patientId,
      StudyDate: postRec.StudyDate,
      ...(typeof tags.PatientBirthDate === 'string' && tags.PatientBirthDate ? { PatientBirthDate: tags.PatientBirthDate } : {}),
      ...(typeof tags.PatientSex === 'string' && tags.PatientSex ? { PatientSex: tags.PatientSex } : {}),
      calledAeTitle: 'NPCAI',
    };
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await orthanc?.cleanup();
    work?.cleanup();
  });

  async function freshStore(): Promise<InstanceStore> {
    const t = tempDir('npcai-priors-store-');
    const db = openDatabase(t.dir);
    const store = new InstanceStore({
      db,
      dataDir: t.dir,
      logger: silentLogger(),
      fsync: true,
      conflictPolicy: 'reject',
      freeSpaceWatermarkMb: 0,
      acceptedTransferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian],
    });
    await store.startupRecovery({ calledAeTitle: 'NPCAI' });
    cleanups.push(async () => {
      await store.close();
      db.close();
      t.cleanup();
    });
    return store;
  }

  const dimseSource = (retrieve: 'c-move' | 'c-get' = 'c-move'): PriorSource => ({ type: 'dimse', name: 'pacs', aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, retrieve });
  const webSource = (): PriorSource => ({ type: 'dicomweb', name: 'pacs-web', url: orthanc.dicomWebUrl });

  function retrieval(store: InstanceStore, sources: PriorSource[]): PriorRetrieval {
    return new PriorRetrieval({ store, resolveSource: (n) => sources.find((s) => s.name === n), limits: () => LIMITS, logger: silentLogger() });
  }

  function assertRetrieved(o: PriorOutcome, store: InstanceStore, method: string): void {
    assert.ok(o.ok, `retrieved: ${o.ok ? '' : `${o.reason}: ${o.message}`}`);
    assert.equal(o.study.studyInstanceUid, pre.uid);
    assert.equal(o.study.studyDate, pre.date);
    assert.equal(o.study.relation, 'earlier');
    assert.equal(o.study.method, method);
    assert.deepEqual([...o.study.sopInstanceUids].sort(), pre.sops, 'the outcome names every instance of the prior');
    const held = store.listStudyInstances(pre.uid).map((i) => i.sopInstanceUid).sort();
    assert.deepEqual(held, pre.sops, 'every instance of the prior is in the store');
    assert.ok(store.listStudyInstances(pre.uid).every((i) => i.calledAeTitle === 'NPCAI'), 'filed under the local AE title of the study it is the prior of');
  }

  it('C-FIND + C-MOVE: the PACS sends the prior to the node\'s own AE title, through its DIMSE listener', async () => {
    const node: TestNode = await startTestNode({
      models: { dir: FIXTURE_MODELS },
      sources: [{ aeTitle: 'ORTHANC', host: '127.0.0.1' }],
      // The test drives PriorRetrieval itself; nothing completes during it.
      localAeTitles: [{ aeTitle: 'NPCAI', completion: { quietSeconds: 3600, forceCompleteSeconds: 7200 } }],
    });
    cleanups.push(() => node.cleanup());
    // The PACS must know the node as a C-MOVE destination.
    await orthancRest(orthanc, '/modalities/npcai', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ AET: 'NPCAI', Host: '127.0.0.1', Port: node.dimsePort }) });
    const r = retrieval(node.instances, [dimseSource('c-move')]);
    const started = r.start(post, { from: ['pacs'], lookbackDays: 1825 });
    assert.equal(r.isPriorStudy(post.StudyInstanceUID), false);
    const o = await r.whenReady(post.StudyInstanceUID, 120_000);
    assert.equal(o, await started);
    assertRetrieved(o, node.instances, 'c-move');
    assert.equal(r.isPriorStudy(pre.uid), true, 'the assembler can tell the arrived study is a prior');
    // Asked again, the prior is already in the store: nothing is moved.
    const again = await r.start({ ...post }, { from: ['pacs'], lookbackDays: 1825 });
    assert.ok(again.ok && again.study.method === 'already-stored');
  });

  it('C-FIND + C-GET: the stores arrive on the same association and are flagged as prior', async () => {
    const store = await freshStore();
    const flagged: InstanceStoredEvent[] = [];
    store.on('stored', (e) => flagged.push(e));
    const o = await retrieval(store, [dimseSource('c-get')]).start(post, { from: ['pacs'], lookbackDays: 1825 });
    assertRetrieved(o, store, 'c-get');
    assert.equal(flagged.length, pre.sops.length);
    assert.ok(flagged.every((e) => e.prior === true), "'stored' events carry prior: true");
  });

  it('QIDO-RS + WADO-RS: the multipart/related study is stored instance by instance, flagged as prior', async () => {
    const store = await freshStore();
    const flagged: InstanceStoredEvent[] = [];
    store.on('stored', (e) => flagged.push(e));
    const o = await retrieval(store, [webSource()]).start(post, { from: ['pacs-web'], lookbackDays: 1825 });
    assertRetrieved(o, store, 'wado-rs');
    assert.ok(flagged.length === pre.sops.length && flagged.every((e) => e.prior === true));
  });

  it('QIDO-RS + WADO-RS over https signed by a site CA: retrieved with the source\'s caFile, refused without it', async () => {
    // An https server on loopback, its certificate signed by a test CA, passing every request on to Orthanc.
    const pkiDir = tempDir('npcai-priors-pki-');
    cleanups.push(() => pkiDir.cleanup());
    const pki = makePki(pkiDir.dir);
    const upstream = new URL(orthanc.dicomWebUrl);
    let forwarded = 0;
    const proxy = https.createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, (req, res) => {
      forwarded++;
      const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => proxy.close(() => r())));
    const url = `https://127.0.0.1:${(proxy.address() as { port: number }).port}${upstream.pathname}`;

    const without = await retrieval(await freshStore(), [{ type: 'dicomweb', name: 'tls-web', url }]).start(
      { ...post, StudyInstanceUID: `${post.StudyInstanceUID}.tls` },
      { from: ['tls-web'], lookbackDays: 1825 },
    );
    assert.ok(!without.ok && without.reason === 'pacs-unreachable', JSON.stringify(without));
    assert.match(without.message, /could not be reached \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\)/, 'the system CAs do not know the test CA');
    assert.equal(forwarded, 0, 'no request passed the TLS handshake');

    const store = await freshStore();
    const withCa = await retrieval(store, [{ type: 'dicomweb', name: 'tls-web', url, caFile: pki.ca }]).start(post, { from: ['tls-web'], lookbackDays: 1825 });
    assertRetrieved(withCa, store, 'wado-rs');
    assert.ok(forwarded >= 2, 'the QIDO-RS query and the WADO-RS retrieval went through the https server');

    const unreadable = await retrieval(await freshStore(), [{ type: 'dicomweb', name: 'tls-web', url, caFile: path.join(work.dir, 'no-such-ca.pem') }]).start(
      { ...post, StudyInstanceUID: `${post.StudyInstanceUID}.noca` },
      { from: ['tls-web'], lookbackDays: 1825 },
    );
    assert.ok(!unreadable.ok && unreadable.reason === 'not-configured', JSON.stringify(unreadable));
    assert.match(unreadable.message, /caFile: cannot read .*no-such-ca\.pem/);
  });

  it('no match: a patient the PACS does not know, and a look-back window that ends after the prior', async () => {
    const store = await freshStore();
    const r = retrieval(store, [dimseSource(), webSource()]);
    for (const from of [['pacs'], ['pacs-web']]) {
      const unknown = await r.start({ ...post, StudyInstanceUID: `${post.StudyInstanceUID}.${from[0]!.length}`, PatientID: 'NOBODY-0000' }, { from, lookbackDays: 1825 });
      assert.ok(!unknown.ok && unknown.reason === 'no-match', JSON.stringify(unknown));
      assert.match(unknown.message, /no other MR study of this patient/);
    }
    const days = Math.round((Date.UTC(+post.StudyDate!.slice(0, 4), +post.StudyDate!.slice(4, 6) - 1, +post.StudyDate!.slice(6)) - Date.UTC(+pre.date.slice(0, 4), +pre.date.slice(4, 6) - 1, +pre.date.slice(6))) / 86_400_000);
    const narrow = await r.start({ ...post, StudyInstanceUID: `${post.StudyInstanceUID}.9` }, { from: ['pacs'], lookbackDays: Math.max(0, days - 1) });
    assert.ok(!narrow.ok && narrow.reason === 'no-match', JSON.stringify(narrow));
    assert.equal(store.listStudyInstances(pre.uid).length, 0);
  });

  it('another patient with the same name, or the same PatientID from another issuer, is never fetched', async () => {
    const store = await freshStore();
    const r = retrieval(store, [dimseSource(), webSource()]);
    // Same name (the PACS's patient is called what ours is called), another PatientID.
    const sameName = await r.start({ ...post, StudyInstanceUID: `${post.StudyInstanceUID}.1`, PatientID: `${patient.patientId}-B` }, { from: ['pacs', 'pacs-web'], lookbackDays: 1825 });
    assert.ok(!sameName.ok && sameName.reason === 'no-match', JSON.stringify(sameName));
    // Same PatientID, another issuer: Orthanc 1.10 matches IssuerOfPatientID (C-FIND and QIDO-RS), so
    // nothing comes back; a PACS that ignored the key would be caught by choosePriorStudy (unit tests).
    for (const from of [['pacs'], ['pacs-web']]) {
      const issuer = await r.start({ ...post, StudyInstanceUID: `${post.StudyInstanceUID}.2${from[0]}`, IssuerOfPatientID: 'OTHER-HOSPITAL' }, { from, lookbackDays: 1825 });
      assert.ok(!issuer.ok && issuer.reason === 'no-match', JSON.stringify(issuer));
    }
    // Same PatientID, another birth date.
    const bd = await r.start({ ...post, StudyInstanceUID: `${post.StudyInstanceUID}.3`, PatientBirthDate: '19000101' }, { from: ['pacs'], lookbackDays: 1825 });
    assert.ok(!bd.ok && bd.reason === 'patient-mismatch', JSON.stringify(bd));
    assert.match(bd.message, /another patient/);
    assert.equal(store.listStudyInstances(pre.uid).length, 0, 'nothing of the other patient was fetched');
  });

  it('the PACS does not know the node: a query from an unknown AE title, a C-MOVE to an unknown destination', async () => {
    const store = await freshStore();
    // Orthanc 1.10 answers a C-FIND from an AE title missing from its DicomModalities with an A-ABORT.
    const stranger = retrieval(store, [{ ...dimseSource(), callingAeTitle: 'STRANGER' } as PriorSource]);
    const t0 = Date.now();
    const q = await stranger.start({ ...post, StudyInstanceUID: `${post.StudyInstanceUID}.u` }, { from: ['pacs'], lookbackDays: 1825 });
    assert.ok(!q.ok && q.reason === 'query-failed', JSON.stringify(q));
    assert.match(q.message, /aborted the association.*does not know our AE title STRANGER/);
    assert.ok(Date.now() - t0 < 10_000, 'the A-ABORT ends the exchange at once, not at the response timeout');
    // Known as a caller (NPCAI), but asked to move to an AE title it has no modality for.
    const mover = retrieval(store, [{ ...dimseSource('c-move'), callingAeTitle: 'NPCAI' } as PriorSource]);
    const m = await mover.start({ ...post, StudyInstanceUID: `${post.StudyInstanceUID}.m`, calledAeTitle: 'NOBODY' }, { from: ['pacs'], lookbackDays: 1825 });
    assert.ok(!m.ok && m.reason === 'retrieval-failed', JSON.stringify(m));
    assert.match(m.message, /0xC000.*may not know the node's AE title NOBODY/, 'Orthanc 1.10 answers 0xC000, not 0xA801');
    assert.equal(store.listStudyInstances(pre.uid).length, 0);
  });

  it('the PACS down: pacs-unreachable after the retries, over DIMSE and DICOMweb; whenReady times out first when asked to', async () => {
    const store = await freshStore();
    await orthanc.stop();
    const r = retrieval(store, [dimseSource(), webSource()]);
    const dimse = await r.start({ ...post, StudyInstanceUID: `${post.StudyInstanceUID}.d` }, { from: ['pacs'], lookbackDays: 1825 });
    assert.ok(!dimse.ok && dimse.reason === 'pacs-unreachable', JSON.stringify(dimse));
    assert.match(dimse.message, /could not be reached/);
    const web = await r.start({ ...post, StudyInstanceUID: `${post.StudyInstanceUID}.w` }, { from: ['pacs-web'], lookbackDays: 1825 });
    assert.ok(!web.ok && web.reason === 'pacs-unreachable', JSON.stringify(web));
    const none = await r.whenReady('1.2.3.4.5.not.started', 10);
    assert.ok(!none.ok && none.reason === 'not-configured');
    const slow = new PriorRetrieval({ store, resolveSource: () => dimseSource(), limits: () => ({ ...LIMITS, maxAttempts: 5, initialBackoffSeconds: 5, maxBackoffSeconds: 5 }) });
    void slow.start({ ...post, StudyInstanceUID: `${post.StudyInstanceUID}.s` }, { from: ['pacs'], lookbackDays: 1825 }, { deadlineMs: 30_000 });
    const timedOut = await slow.whenReady(`${post.StudyInstanceUID}.s`, 200);
    assert.ok(!timedOut.ok && timedOut.reason === 'timeout', JSON.stringify(timedOut));
    slow.stop();
  });
});
