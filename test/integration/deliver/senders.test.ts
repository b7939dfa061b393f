/** C-STORE SCU and STOW-RS client against real peers: Orthanc (REST/DICOMweb read-back) and DCMTK storescp. */
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { storeInstances } from '../../../src/deliver/cstore-scu';
import { stowInstances } from '../../../src/deliver/stow-client';
import { cEcho, httpCheck } from '../../../src/deliver/echo';
import { tempDir } from '../../helpers/temp-dir';
import { makeSecondaryCapture, type SecondaryCapture } from '../../helpers/secondary-capture';
import { freePort, orthancFindInstance, orthancGetTags, orthancListInstances, orthancSendStudy, orthancUpload, startOrthanc, type Orthanc } from '../../helpers/orthanc';

function writeObjects(dir: string, objs: SecondaryCapture[]) {
  return objs.map((o) => {
    const p = path.join(dir, `${o.sopInstanceUid}.dcm`);
    writeFileSync(p, o.data);
    return { path: p, sopInstanceUid: o.sopInstanceUid, sopClassUid: o.sopClassUid };
  });
}

describe('delivery senders against real peers', function () {
  this.timeout(60_000);
  let orthanc: Orthanc;
  let tmp: ReturnType<typeof tempDir>;

  before(async () => {
    orthanc = await startOrthanc({ aeTitle: 'PACSA' });
  });
  after(async () => {
    await orthanc?.cleanup();
  });
  beforeEach(() => {
    tmp = tempDir('npcai-send-');
  });
  afterEach(() => tmp.cleanup());

  it('stores Secondary Captures in Orthanc by C-STORE, with the UTF-8 patient name intact', async () => {
    const study = makeSecondaryCapture().studyInstanceUid;
    const objs = [1, 2].map((n) => makeSecondaryCapture({ studyInstanceUid: study, instanceNumber: n, seed: n }));
    const files = writeObjects(tmp.dir, objs);
    const out = await storeInstances({ host: '127.0.0.1', port: orthanc.dicomPort, calledAeTitle: 'PACSA', callingAeTitle: 'NPCAI' }, files, { responseTimeoutSeconds: 10 });
    assert.equal(out.associated, true);
    assert.deepEqual(out.results.map((r) => [r.ok, r.status]), [[true, 0], [true, 0]]);
    const stored = await orthancListInstances(orthanc, study);
    assert.deepEqual(stored.map((s) => s.sopInstanceUid).sort(), objs.map((o) => o.sopInstanceUid).sort());
    const tags = await orthancGetTags(orthanc, stored[0]!.id);
    assert.equal(tags.PatientName, '王^伟');
    assert.equal(tags.SpecificCharacterSet, 'ISO_IR 192');
    assert.equal(tags.SOPClassUID, objs[0]!.sopClassUid);
  });

  it('keeps one copy in Orthanc when the same instance is stored twice', async () => {
    const obj = makeSecondaryCapture();
    const files = writeObjects(tmp.dir, [obj]);
    const target = { host: '127.0.0.1', port: orthanc.dicomPort, calledAeTitle: 'PACSA', callingAeTitle: 'NPCAI' };
    for (let i = 0; i < 2; i++) {
      const out = await storeInstances(target, files, { responseTimeoutSeconds: 10 });
      assert.equal(out.results[0]!.ok, true, out.results[0]!.message);
    }
    assert.equal((await orthancListInstances(orthanc, obj.studyInstanceUid)).length, 1);
  });

  it('reports every instance as failed, with the reason, when nothing listens on the port', async () => {
    const files = writeObjects(tmp.dir, [makeSecondaryCapture(), makeSecondaryCapture()]);
    const out = await storeInstances({ host: '127.0.0.1', port: await freePort(), calledAeTitle: 'X', callingAeTitle: 'NPCAI' }, files, { responseTimeoutSeconds: 5 });
    assert.equal(out.associated, false);
    assert.equal(out.results.length, 2);
    for (const r of out.results) {
      assert.equal(r.ok, false);
      assert.match(r.message, /ECONNREFUSED/);
    }
  });

  it('fails an unreadable file permanently and still sends the others', async () => {
    const good = makeSecondaryCapture();
    const files = [...writeObjects(tmp.dir, [good]), { path: path.join(tmp.dir, 'missing.dcm'), sopInstanceUid: '1.2.3.4', sopClassUid: good.sopClassUid }];
    const out = await storeInstances({ host: '127.0.0.1', port: orthanc.dicomPort, calledAeTitle: 'PACSA', callingAeTitle: 'NPCAI' }, files, { responseTimeoutSeconds: 10 });
    assert.equal(out.results[0]!.ok, true);
    assert.deepEqual([out.results[1]!.ok, out.results[1]!.permanent], [false, true]);
    assert.ok(await orthancFindInstance(orthanc, good.sopInstanceUid));
  });

  it('times out on a peer that accepts the connection but never answers', async () => {
    const net = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const files = writeObjects(tmp.dir, [makeSecondaryCapture()]);
      const port = (silent.address() as import('node:net').AddressInfo).port;
      const out = await storeInstances({ host: '127.0.0.1', port, calledAeTitle: 'X', callingAeTitle: 'NPCAI' }, files, { responseTimeoutSeconds: 1 });
      assert.equal(out.results[0]!.ok, false);
      assert.match(out.error ?? '', /no response within 1 s|PDU|timeout|time/i);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('delivers the exact dataset bytes to DCMTK storescp', async () => {
    const port = await freePort();
    const out = path.join(tmp.dir, 'scp');
    execFileSync('mkdir', ['-p', out]);
    const scp: ChildProcess = spawn('storescp', ['-od', out, '+xa', '-aet', 'STORESCP', String(port)], { env: { ...process.env, TCP_NODELAY: '1' }, stdio: 'ignore' });
    try {
      await waitForPort(port);
      const obj = makeSecondaryCapture({ patientName: '王^伟' });
      const files = writeObjects(tmp.dir, [obj]);
      const res = await storeInstances({ host: '127.0.0.1', port, calledAeTitle: 'STORESCP', callingAeTitle: 'NPCAI' }, files, { responseTimeoutSeconds: 10 });
      assert.equal(res.results[0]!.ok, true, res.results[0]!.message);
      const received = readdirSync(out).filter((f) => f.startsWith('SC.'));
      assert.equal(received.length, 1);
      // The dataset (everything after the file meta group) must be what we wrote.
      const dump = (p: string) => execFileSync('dcmdump', ['+P', '0008,0005', '+P', '0010,0010', '+P', '0008,0018', '+P', '7FE0,0010', p], { encoding: 'utf8' });
      assert.equal(dump(path.join(out, received[0]!)), dump(files[0]!.path));
      assert.match(dump(path.join(out, received[0]!)), /王\^伟/);
    } finally {
      scp.kill('SIGTERM');
    }
  });

  it('test helper: Orthanc sends a stored study to a DICOM peer (orthancSendStudy)', async () => {
    const port = await freePort();
    const out = path.join(tmp.dir, 'scp2');
    execFileSync('mkdir', ['-p', out]);
    const scp: ChildProcess = spawn('storescp', ['-od', out, '+xa', '-aet', 'NPCAI', String(port)], { env: { ...process.env, TCP_NODELAY: '1' }, stdio: 'ignore' });
    try {
      await waitForPort(port);
      const obj = makeSecondaryCapture();
      assert.equal((await orthancUpload(orthanc, obj.data)).Status, 'Success');
      await orthancSendStudy(orthanc, { aeTitle: 'NPCAI', host: '127.0.0.1', port }, obj.studyInstanceUid);
      assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('SC.')), [`SC.${obj.sopInstanceUid}`]);
    } finally {
      scp.kill('SIGTERM');
    }
  });

  it('stores by STOW-RS into Orthanc and reads them back through QIDO-RS and WADO-RS', async () => {
    const study = makeSecondaryCapture().studyInstanceUid;
    const objs = [1, 2].map((n) => makeSecondaryCapture({ studyInstanceUid: study, instanceNumber: n, seed: n }));
    const files = writeObjects(tmp.dir, objs);
    const out = await stowInstances({ url: orthanc.dicomWebUrl }, files, { timeoutSeconds: 10 });
    assert.equal(out.httpStatus, 200);
    assert.deepEqual(out.results.map((r) => r.ok), [true, true]);

    const qido = (await (await fetch(`${orthanc.dicomWebUrl}/studies/${study}/instances`, { headers: { accept: 'application/dicom+json' } })).json()) as Record<string, { Value?: unknown[] }>[];
    assert.deepEqual(qido.map((i) => i['00080018']!.Value![0]).sort(), objs.map((o) => o.sopInstanceUid).sort());
    const meta = (await (await fetch(`${orthanc.dicomWebUrl}/studies/${study}/metadata`, { headers: { accept: 'application/dicom+json' } })).json()) as Record<string, { Value?: { Alphabetic?: string }[] }>[];
    assert.equal(meta[0]!['00100010']!.Value![0]!.Alphabetic, '王^伟');
    const wado = await fetch(`${orthanc.dicomWebUrl}/studies/${study}/series/${objs[0]!.seriesInstanceUid}/instances/${objs[0]!.sopInstanceUid}`, {
      headers: { accept: 'multipart/related; type="application/dicom"' },
    });
    assert.equal(wado.status, 200);
    const body = Buffer.from(await wado.arrayBuffer());
    assert.ok(body.includes(Buffer.from(objs[0]!.sopInstanceUid)), 'WADO-RS returns the instance');
  });

  it('reports a retryable failure when the DICOMweb endpoint is down', async () => {
    const files = writeObjects(tmp.dir, [makeSecondaryCapture()]);
    const out = await stowInstances({ url: `http://127.0.0.1:${await freePort()}/dicom-web` }, files, { timeoutSeconds: 5 });
    assert.equal(out.results[0]!.ok, false);
    assert.equal(out.results[0]!.permanent, undefined);
    assert.match(out.error ?? '', /ECONNREFUSED/);
  });

  it('reports a permanent failure when the endpoint answers 404', async () => {
    const files = writeObjects(tmp.dir, [makeSecondaryCapture()]);
    const out = await stowInstances({ url: `${orthanc.url}/no-such-root` }, files, { timeoutSeconds: 5 });
    assert.equal(out.httpStatus, 404);
    assert.deepEqual([out.results[0]!.ok, out.results[0]!.permanent], [false, true]);
  });

  it('verifies Orthanc with C-ECHO and a QIDO-RS check, and reports a closed port', async () => {
    const ok = await cEcho({ host: '127.0.0.1', port: orthanc.dicomPort, calledAeTitle: 'PACSA', callingAeTitle: 'NPCAI' }, 5);
    assert.deepEqual([ok.ok, ok.status], [true, 0]);
    const web = await httpCheck(orthanc.dicomWebUrl, undefined, 5);
    assert.deepEqual([web.ok, web.status], [true, 200]);
    const down = await cEcho({ host: '127.0.0.1', port: await freePort(), calledAeTitle: 'PACSA', callingAeTitle: 'NPCAI' }, 5);
    assert.equal(down.ok, false);
    assert.match(down.message, /ECONNREFUSED/);
  });
});

async function waitForPort(port: number): Promise<void> {
  const net = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}
