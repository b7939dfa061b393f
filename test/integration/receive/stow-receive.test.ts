import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { writeMrInstance, writeMrStudy } from '../../helpers/mr-fixture';
import { deterministicUid } from '../../../src/dicom/uids';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function multipart(parts: Buffer[], boundary = 'npcai-boundary-42'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), p, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

describe('STOW-RS receive (integration)', function () {
  this.timeout(30000);
  let node: TestNode;
  let work: { dir: string; cleanup: () => void };
  beforeEach(async () => {
    node = await startTestNode();
    work = tempDir('npcai-stow-');
  });
  afterEach(async () => {
    await node.cleanup();
    work.cleanup();
  });

  const post = (p: string, body: Buffer, contentType: string) => node.api(p, { method: 'POST', body, headers: { 'content-type': contentType } });

  it('stores a three-series study unchanged and answers 200 with ReferencedSOPSequence; a resend is idempotent', async () => {
    const study = writeMrStudy(work.dir, { slices: 2, name: 'stow' });
    const { body, contentType } = multipart(study.files.map((f) => readFileSync(f)));
    const res = await post('/dicomweb/studies', body, contentType);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/dicom\+json/);
    const json = (await res.json()) as Record<string, { Value: unknown[] }>;
    assert.equal(json['00081199']!.Value.length, 6);
    const stored = node.instances.listStudyInstances(study.studyUid);
    assert.equal(stored.length, 6);
    for (const f of study.files) assert.ok(stored.some((s) => s.sha256 === sha(readFileSync(f))));
    assert.ok(stored.every((s) => s.callingAeTitle === 'STOW-RS' && s.calledAeTitle === 'NPCAI'));
    const again = await post(`/dicomweb/studies/${study.studyUid}`, body, contentType);
    assert.equal(again.status, 200);
  });

  it('answers 202 with FailedSOPSequence when some instances are invalid, 409 when none is valid', async () => {
    const good = writeMrStudy(work.dir, { slices: 1, name: 'mix' }).files[0]!;
    const noSop = writeMrInstance(path.join(work.dir, 'nosop.dcm'), {
      studyUid: deterministicUid('x'), seriesUid: deterministicUid('y'), sopUid: deterministicUid('z'),
      seriesNumber: 1, instanceNumber: 1, seriesDescription: 'AX', overrides: { '00080018': null },
    });
    const mixed = multipart([readFileSync(good), readFileSync(noSop)]);
    const res = await post('/dicomweb/studies', mixed.body, mixed.contentType);
    assert.equal(res.status, 202);
    const json = (await res.json()) as Record<string, { Value: Array<Record<string, { Value: unknown[] }>> }>;
    assert.equal(json['00081198']!.Value.length, 1);
    assert.equal(json['00081198']!.Value[0]!['00081197']!.Value[0], 0xc000);
    const bad = multipart([readFileSync(noSop)]);
    assert.equal((await post('/dicomweb/studies', bad.body, bad.contentType)).status, 409);
  });

  it('refuses other media types with 415, a malformed body with 400, and requires the token', async () => {
    assert.equal((await post('/dicomweb/studies', Buffer.from('{}'), 'multipart/related; type="application/dicom+json"; boundary=x')).status, 415);
    assert.equal((await post('/dicomweb/studies', Buffer.from('--x\r\nContent-Type: application/dicom\r\n\r\nabc'), 'multipart/related; type="application/dicom"; boundary=x')).status, 400);
    const res = await fetch(`http://127.0.0.1:${node.httpPort}/dicomweb/studies`, { method: 'POST' });
    assert.equal(res.status, 401);
  });
});
