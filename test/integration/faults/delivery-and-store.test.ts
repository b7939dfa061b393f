/**
 * Delivery and store correctness (issue 11, bullet 4): STOW-RS success only from a response that lists each
 * instance, no redirects, http(s) destination URLs only; the replace conflict policy never loses the
 * acknowledged instance; a new directory is durable before any store into it is answered; recovery after
 * a lost index uses the ingress recorded with each file (its File Meta over DIMSE, a sidecar for STOW-RS).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { storescu } from '../../helpers/dicom-peers';
import { datasetBytes, writeMrInstance, writeMrStudy } from '../../helpers/mr-fixture';
import { makeSecondaryCapture } from '../../helpers/secondary-capture';
import { buildMultipartBody, multipartContentType, newBoundary, stowInstances } from '../../../src/deliver/stow-client';
import { DirectorySyncer, ensureDir } from '../../../src/store/durable-write';
import { errnoError, setStoreFaultInjector } from '../../../src/store/fault-injection';
import { deterministicUid } from '../../../src/dicom/uids';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A local HTTP server answering every request with `answer`; counts the requests it got. */
async function fakeServer(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits += 1;
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, hits: () => hits, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('delivery and store correctness (integration)', function () {
  this.timeout(60_000);
  let work: ReturnType<typeof tempDir>;
  let node: TestNode | undefined;
  beforeEach(() => {
    work = tempDir('npcai-correct-');
  });
  afterEach(async () => {
    setStoreFaultInjector(undefined);
    await node?.cleanup();
    node = undefined;
    work.cleanup();
  });

  describe('STOW-RS delivery', () => {
    const files = () => {
      const objs = [1, 2].map((n) => makeSecondaryCapture({ instanceNumber: n, seed: n }));
      return objs.map((o) => {
        const p = path.join(work.dir, `${o.sopInstanceUid}.dcm`);
        writeFileSync(p, o.data);
        return { path: p, sopInstanceUid: o.sopInstanceUid, sopClassUid: o.sopClassUid };
      });
    };

    it('counts nothing as stored from a 200 with an empty or unparseable body', async () => {
      for (const body of ['', '<html>ok</html>', '{}']) {
        const s = await fakeServer((_req, res) => res.writeHead(200, { 'content-type': 'application/dicom+json' }).end(body));
        try {
          const out = await stowInstances({ url: s.url }, files(), { timeoutSeconds: 5 });
          assert.deepEqual(out.results.map((r) => r.ok), [false, false], `body ${JSON.stringify(body)}`);
          assert.ok(out.results.every((r) => !r.permanent), 'retryable: the PACS may have stored them');
        } finally {
          await s.close();
        }
      }
    });

    it('counts only the instances the response lists; FailedSOPSequence fails its instance', async () => {
      const f = files();
      const s = await fakeServer((_req, res) =>
        res.writeHead(200, { 'content-type': 'application/dicom+json' }).end(
          JSON.stringify({
            '00081199': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: [f[0]!.sopInstanceUid] } }] },
            '00081198': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: [f[1]!.sopInstanceUid] }, '00081197': { vr: 'US', Value: [0xa700] } }] },
          }),
        ),
      );
      try {
        const out = await stowInstances({ url: s.url }, f, { timeoutSeconds: 5 });
        assert.deepEqual(out.results.map((r) => r.ok), [true, false]);
        assert.match(out.results[1]!.message, /FailureReason 42752/);
      } finally {
        await s.close();
      }
    });

    it('does not follow a redirect: the body never goes to the other address', async () => {
      const elsewhere = await fakeServer((_req, res) => res.writeHead(200).end('{}'));
      const redirecting = await fakeServer((_req, res) => res.writeHead(307, { location: `${elsewhere.url}/studies` }).end());
      try {
        const out = await stowInstances({ url: redirecting.url }, files(), { timeoutSeconds: 5 });
        assert.deepEqual(out.results.map((r) => r.ok), [false, false]);
        assert.equal(redirecting.hits(), 1);
        assert.equal(elsewhere.hits(), 0);
      } finally {
        await elsewhere.close();
        await redirecting.close();
      }
    });

    it('refuses destination URLs other than http(s) at the API with 400 and a message', async () => {
      node = await startTestNode({});
      for (const url of ['data:application/json,{}', 'file:///etc/passwd', 'ftp://pacs/dicom-web', 'javascript:alert(1)']) {
        const res = await node.api('/api/v1/destinations', { method: 'POST', body: JSON.stringify({ name: 'web', type: 'dicomweb', url }) });
        assert.equal(res.status, 400, url);
        assert.match(await res.text(), /http:\/\/ or https:\/\//, url);
      }
      const ok = await node.api('/api/v1/destinations', { method: 'POST', body: JSON.stringify({ name: 'web', type: 'dicomweb', url: 'https://pacs.example/dicom-web' }) });
      assert.equal(ok.status, 201);
    });
  });

  describe('store', () => {
    const spec = {
      studyUid: deterministicUid('replace-study'),
      seriesUid: deterministicUid('replace-series'),
      sopUid: deterministicUid('replace-sop'),
      seriesNumber: 1,
      instanceNumber: 1,
      seriesDescription: 'AX T2',
    };

    it("'replace' keeps the acknowledged instance in place and indexed when placing the new file fails (before or after its rename)", async () => {
      node = await startTestNode({ dimse: { allowUnknownSources: true }, storage: { conflictPolicy: 'replace', freeSpaceWatermarkMb: 0 } });
      const a = writeMrInstance(path.join(work.dir, 'a.dcm'), spec);
      assert.equal((await storescu(node.dimsePort, [a])).code, 0);
      const stored = node.instances.getInstance(spec.sopUid)!;
      for (const [i, op] of (['rename', 'fdatasync', 'fsync-dir'] as const).entries()) {
        const b = writeMrInstance(path.join(work.dir, `b${i}.dcm`), { ...spec, seed: 100 + i });
        setStoreFaultInjector((o, p) => {
          if (o === op && (p === stored.path || p === path.dirname(stored.path))) throw errnoError('EIO', o, p);
        });
        const sent = await storescu(node.dimsePort, [b], { extra: ['-d'] });
        setStoreFaultInjector(undefined);
        assert.match(sent.output, /DIMSE Status\s*:\s*0x0110/i, `${op}: ${sent.output.slice(-400)}`);
        const now: { sha256: string; path: string } = node.instances.getInstance(spec.sopUid)!;
        assert.equal(now.sha256, stored.sha256, `${op}: index still names the acknowledged object`);
        assert.equal(sha(readFileSync(now.path)), stored.sha256, `${op}: the acknowledged file is in place`);
      }
      // Without a fault the replacement goes through, and the old object is kept beside it.
      const c = writeMrInstance(path.join(work.dir, 'c.dcm'), { ...spec, seed: 999 });
      assert.equal((await storescu(node.dimsePort, [c])).code, 0);
      const replaced = node.instances.getInstance(spec.sopUid)!;
      assert.equal(sha(datasetBytes(readFileSync(replaced.path))), sha(datasetBytes(readFileSync(c))));
      const kept = readdirSync(path.dirname(replaced.path)).filter((f) => f.includes('.superseded-'));
      assert.ok(kept.some((f) => sha(readFileSync(path.join(path.dirname(replaced.path), f))) === stored.sha256), 'the superseded object is kept');
    });

    it('answers no store into a new directory before the directory entry is durable (a second store waits for the first one\'s fsync)', async () => {
      const root = path.join(work.dir, 'tree');
      mkdirSync(root);
      const syncer = new DirectorySyncer(true);
      const dir = path.join(root, 'study', 'series');
      // The parent's fsync fails: neither caller may be told the directory is durable.
      setStoreFaultInjector((op, p) => {
        if (op === 'fsync-dir' && p === path.join(root, 'study')) throw errnoError('EIO', op, p);
      });
      const results = await Promise.allSettled([ensureDir(dir, syncer), ensureDir(dir, syncer)]);
      assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
      setStoreFaultInjector(undefined);
      // Once the fsync works, the directory (made by the failed attempt) is synced before it counts as made.
      const synced: string[] = [];
      setStoreFaultInjector((op, p) => void (op === 'fsync-dir' && synced.push(p)));
      await Promise.all([ensureDir(dir, syncer), ensureDir(dir, syncer)]);
      assert.ok(synced.includes(path.join(root, 'study')), `parent synced: ${synced.join(', ')}`);

      // Through the node: two stores into one new series, the new series directory's parent fsync failing.
      node = await startTestNode({ dimse: { allowUnknownSources: true }, storage: { freeSpaceWatermarkMb: 0 } });
      const study = writeMrStudy(path.join(work.dir, 'race'), { slices: 2, name: 'dir-race' });
      const files = study.series[0]!.files;
      const studyDir = path.join(node.dataDir, 'instances', study.studyUid);
      setStoreFaultInjector((op, p) => {
        if (op === 'fsync-dir' && p === studyDir) throw errnoError('EIO', op, p);
      });
      const sends = await Promise.all(files.map((f, i) => storescu(node!.dimsePort, [f], { aet: `RACE${i}`, extra: ['-d'] })));
      setStoreFaultInjector(undefined);
      for (const s of sends) assert.doesNotMatch(s.output, /DIMSE Status\s*:\s*0x0000/i, 'a Success while the directory entry was not durable');
      assert.equal(node.instances.listStudyInstances(study.studyUid).length, 0);
    });

    it('rebuilds a lost index with the receiving AE title, calling AE title and ingress recorded with each file (File Meta over DIMSE, a sidecar for STOW-RS)', async () => {
      const dataDir = path.join(work.dir, 'data');
      const overrides = {
        dimse: { allowUnknownSources: true },
        localAeTitles: [{ aeTitle: 'FIRSTAE' }, { aeTitle: 'SECONDAE' }],
      };
      node = await startTestNode(overrides, { dataDir });
      const study = writeMrStudy(path.join(work.dir, 'rec'), { slices: 1, name: 'recovery-ae' });
      assert.equal((await storescu(node.dimsePort, study.files.slice(0, 2), { aec: 'SECONDAE', aet: 'MODX' })).code, 0);
      const boundary = newBoundary();
      const body = buildMultipartBody([readFileSync(study.files[2]!)], boundary);
      const contentType = multipartContentType(boundary);
      const stow = await node.api('/dicomweb/studies?aeTitle=SECONDAE', { method: 'POST', body, headers: { 'content-type': contentType } });
      assert.ok(stow.status === 200, `STOW-RS ${stow.status}`);
      const stored = node.instances.listStudyInstances(study.studyUid);
      const before = stored.map((i) => [i.sopInstanceUid, i.calledAeTitle, i.callingAeTitle]).sort();
      // DIMSE: who received it is in the file's File Meta, nothing beside it; STOW-RS: the client's File Meta, so a sidecar.
      const sidecars = stored.filter((i) => existsSync(i.path.replace(/\.dcm$/, '.ingress.json'))).map((i) => i.callingAeTitle);
      assert.deepEqual(sidecars, stored.filter((i) => i.callingAeTitle !== 'MODX').map((i) => i.callingAeTitle));
      assert.equal(stored.filter((i) => i.callingAeTitle === 'MODX').length, 2);
      await node.stop();
      // Power loss before the index commits (synchronous=NORMAL): the rows are gone, the files are there.
      const db = new Database(path.join(dataDir, 'node.sqlite'));
      db.prepare('DELETE FROM instances').run();
      db.close();
      node = await startTestNode(overrides, { dataDir });
      const after = node.instances.listStudyInstances(study.studyUid).map((i) => [i.sopInstanceUid, i.calledAeTitle, i.callingAeTitle]).sort();
      assert.deepEqual(after, before);
      assert.ok(after.filter((r) => r[1] === 'SECONDAE').length >= 2, JSON.stringify(after));
    });
  });
});
