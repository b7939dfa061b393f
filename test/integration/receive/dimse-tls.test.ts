/**
 * DICOM TLS (PS3.15 B.9, BCP 195) against DCMTK: a CA, server and client certificates made with openssl;
 * echoscu/storescu +tls on the node's TLS port, a plain association there, a client without a certificate
 * when one is required, results delivered to a `storescp +tls` destination, HTTPS /healthz.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import path from 'node:path';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { writeMrStudy } from '../../helpers/mr-fixture';
import { runTool } from '../../helpers/dicom-peers';
import { freePort } from '../../helpers/orthanc';
import { waitFor } from '../../helpers/wait-for';
import { makeSecondaryCapture } from '../../helpers/secondary-capture';
import { storeInstances } from '../../../src/deliver/cstore-scu';
import { cEcho } from '../../../src/deliver/echo';
import { stowInstances } from '../../../src/deliver/stow-client';
import { echoDestination } from '../../../src/deliver/destination-types';
import { DestinationSchema } from '../../../src/config/schema';
import { makePki, type Pki } from '../../helpers/test-pki';

const tlsArgs = (pki: Pki) => ['+tls', pki.clientKey, pki.clientCert, '+cf', pki.ca];

function echoTls(port: number, extra: string[]) {
  return runTool('echoscu', ['-v', '-aet', 'STORESCU', '-aec', 'NPCAI', ...extra, '127.0.0.1', String(port)], 30_000);
}

describe('DICOM TLS and HTTPS against DCMTK', function () {
  this.timeout(120_000);
  let work: ReturnType<typeof tempDir>;
  let pki: Pki;
  let node: TestNode;

  before(async () => {
    work = tempDir('npcai-tls-');
    pki = makePki(work.dir);
    node = await startTestNode({
      dimse: { port: 0, allowUnknownSources: true, tls: { port: 0, certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca, requireClientCertificate: true } },
      http: { tls: { certFile: pki.serverCert, keyFile: pki.serverKey } },
    });
  });
  after(async () => {
    await node?.cleanup();
    work?.cleanup();
  });

  it('has no plain listener when dimse.port is 0 and TLS is set', () => {
    assert.equal(node.dimsePort, 0);
    assert.ok(node.dimseTlsPort > 0);
  });

  it('answers echoscu +tls with a certificate signed by the CA', async () => {
    const r = await echoTls(node.dimseTlsPort, tlsArgs(pki));
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Received Echo Response \(Success\)/);
  });

  it('stores what storescu +tls sends, acknowledged and indexed', async () => {
    const study = writeMrStudy(path.join(work.dir, 'study'), { slices: 2 });
    const r = await runTool('storescu', ['-v', '-aet', 'STORESCU', '-aec', 'NPCAI', ...tlsArgs(pki), '127.0.0.1', String(node.dimseTlsPort), ...study.files], 60_000);
    assert.equal(r.code, 0, r.output);
    assert.doesNotMatch(r.output, /Store Response \((?!Success)/);
    const rows = node.instances.listStudyInstances(study.studyUid);
    assert.equal(rows.length, study.files.length);
  });

  it('refuses a plain association on the TLS port', async () => {
    const r = await echoTls(node.dimseTlsPort, []);
    assert.notEqual(r.code, 0, r.output);
    assert.doesNotMatch(r.output, /Received Echo Response \(Success\)/);
  });

  it('refuses a TLS client without a certificate when requireClientCertificate is on', async () => {
    const r = await echoTls(node.dimseTlsPort, ['+tla', '+cf', pki.ca]);
    assert.notEqual(r.code, 0, r.output);
    assert.doesNotMatch(r.output, /Received Echo Response \(Success\)/);
    // and the node's own client (dcmjs-dimse) without a certificate is refused too, with one it is answered
    const without = await cEcho({ host: '127.0.0.1', port: node.dimseTlsPort, calledAeTitle: 'NPCAI', callingAeTitle: 'X', tls: { caFile: pki.ca } }, 10);
    assert.equal(without.ok, false, without.message);
    const withCert = await cEcho({ host: '127.0.0.1', port: node.dimseTlsPort, calledAeTitle: 'NPCAI', callingAeTitle: 'X', tls: { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey } }, 10);
    assert.equal(withCert.ok, true, withCert.message);
  });

  it('refuses TLS 1.1 and a TLS 1.2 suite outside BCP 195 (RSA key exchange, CBC)', async () => {
    const attempt = (opts: tls.ConnectionOptions) =>
      new Promise<string>((resolve) => {
        const c = tls.connect({ host: '127.0.0.1', port: node.dimseTlsPort, ca: readFileSync(pki.ca), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey), ...opts }, () => {
          resolve(`connected ${c.getProtocol()} ${c.getCipher().name}`);
          c.destroy();
        });
        c.on('error', (e) => resolve(`error ${e.message}`));
      });
    // The client allows what the profile forbids (security level 0), so the refusal is the node's.
    assert.match(await attempt({ minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), /^error .*(protocol version|unsupported protocol)/i);
    assert.match(await attempt({ maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA@SECLEVEL=0' }), /^error .*handshake failure/i);
    assert.match(await attempt({ maxVersion: 'TLSv1.2' }), /^connected TLSv1\.2 ECDHE-RSA-AES(128|256)-GCM-SHA(256|384)$/);
  });

  it('answers /healthz over HTTPS (certificate checked against the CA)', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: node.httpPort, path: '/healthz', ca: readFileSync(pki.ca) }, (res) => {
          let s = '';
          res.on('data', (c) => (s += c));
          res.on('end', () => resolve(`${res.statusCode} ${s}`));
        })
        .on('error', reject);
    });
    assert.match(body, /^200 .*"status":"ok"/);
  });

  describe('results to a storescp +tls destination', () => {
    let scp: ChildProcess | undefined;
    let port: number;
    let out: ReturnType<typeof tempDir>;
    before(async () => {
      out = tempDir('npcai-tls-scp-');
      port = await freePort();
      // storescp requires and verifies the peer's certificate by default (-rc).
      scp = spawn('storescp', ['-aet', 'TLSPACS', '+tls', pki.serverKey, pki.serverCert, '+cf', pki.ca, '-od', out.dir, String(port)], { stdio: 'ignore' });
      await waitFor(
        async () => ((await cEcho({ host: '127.0.0.1', port, calledAeTitle: 'TLSPACS', callingAeTitle: 'NPCAI', tls: { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey } }, 5)).ok ? true : undefined),
        'storescp +tls to answer',
        15_000,
      );
    });
    after(() => {
      scp?.kill();
      out?.cleanup();
    });

    it('delivers through the outbox over TLS, and a client without a certificate is refused', async () => {
      const dest = node.settings.destinations.put(
        DestinationSchema.parse({ name: 'tlspacs', type: 'dimse', aeTitle: 'TLSPACS', host: '127.0.0.1', port, tls: { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey } }),
      );
      const echo = await echoDestination(dest, { callingAeTitle: 'NPCAI', timeoutSeconds: 10 });
      assert.equal(echo.ok, true, echo.message);
      node.settings.aeTitles.put({ ...node.settings.aeTitles.get('NPCAI')!, destinations: ['tlspacs'] });

      const sc = makeSecondaryCapture();
      const file = path.join(node.dataDir, 'results', `${sc.sopInstanceUid}.dcm`);
      execFileSync('mkdir', ['-p', path.dirname(file)]);
      writeFileSync(file, sc.data);
      const { jobs } = node.outbox.enqueue({ studyInstanceUid: sc.studyInstanceUid, calledAeTitle: 'NPCAI', files: [{ path: file, sopInstanceUid: sc.sopInstanceUid, sopClassUid: sc.sopClassUid }] });
      assert.equal(jobs.length, 1);
      await waitFor(() => (node.outbox.get(jobs[0]!.id)?.state === 'done' ? true : undefined), 'delivery over TLS', 30_000);
      await waitFor(() => (readdirSync(out.dir).length > 0 ? true : undefined), 'the file at storescp', 10_000);
      assert.match(node.outbox.get(jobs[0]!.id)!.history.map((h) => h.message ?? '').join(' '), /over TLS/);

      const anonymous = await storeInstances({ host: '127.0.0.1', port, calledAeTitle: 'TLSPACS', callingAeTitle: 'NPCAI', tls: { caFile: pki.ca } }, [{ path: file, sopInstanceUid: sc.sopInstanceUid, sopClassUid: sc.sopClassUid }], { responseTimeoutSeconds: 10 });
      assert.equal(anonymous.results[0]!.ok, false);
    });
  });

  it('keeps the plain listener beside the TLS one when dimse.port is set', async () => {
    const plainPort = await freePort();
    const both = await startTestNode({ dimse: { port: plainPort, allowUnknownSources: true, tls: { port: 0, certFile: pki.serverCert, keyFile: pki.serverKey } } });
    try {
      assert.equal(both.dimsePort, plainPort);
      const plain = await echoTls(both.dimsePort, []);
      assert.equal(plain.code, 0, plain.output);
      // Without caFile no client certificate is asked for: anonymous TLS with the server checked against the CA.
      const secured = await echoTls(both.dimseTlsPort, ['+tla', '+cf', pki.ca]);
      assert.equal(secured.code, 0, secured.output);
    } finally {
      await both.cleanup();
    }
  });

  it('sends STOW-RS to an https DICOMweb server signed by a site CA (caFile), and refuses it without', async () => {
    let received = 0;
    const sc = makeSecondaryCapture();
    const server = https.createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, (req, res) => {
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => {
        // A PS3.18 store response that lists the instance (delivery counts only what the response lists).
        res.writeHead(200, { 'content-type': 'application/dicom+json' });
        res.end(JSON.stringify({ '00081199': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: [sc.sopInstanceUid] } }] } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/dicom-web`;
      const file = path.join(work.dir, `${sc.sopInstanceUid}.dcm`);
      writeFileSync(file, sc.data);
      const files = [{ path: file, sopInstanceUid: sc.sopInstanceUid, sopClassUid: sc.sopClassUid }];
      const ok = await stowInstances({ url, caFile: pki.ca }, files, { timeoutSeconds: 10 });
      assert.equal(ok.httpStatus, 200, ok.error);
      assert.equal(ok.results[0]!.ok, true, ok.results[0]!.message);
      assert.ok(received > sc.data.length);
      const without = await stowInstances({ url }, files, { timeoutSeconds: 10 });
      assert.equal(without.results[0]!.ok, false);
      assert.match(without.error ?? '', /network error/);
    } finally {
      server.close();
    }
  });
});
