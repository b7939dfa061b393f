/**
 * Patient identity (issue 11, bullet 3): an instance naming a known study but another patient (PatientID,
 * its issuer, birth date or sex) is refused before Success over DIMSE (0xA9FE with an ErrorComment) and
 * STOW-RS (a FailedSOPSequence item with the reason); or held in quarantine, shown and released or deleted
 * by the API; or, for sites that correct patient IDs, taken as a correction that re-keys the study. In no
 * case is it counted or analysed with the study unless so decided.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { storescu } from '../../helpers/dicom-peers';
import { writeMrStudy, type MrInstanceSpec, type MrStudy } from '../../helpers/mr-fixture';
import { buildMultipartBody, multipartContentType, newBoundary } from '../../../src/deliver/stow-client';

/** The same study with one more instance in a new series, stated for another patient. */
function intruder(dir: string, name: string, study: MrStudy, overrides: MrInstanceSpec['overrides']): string {
  const other = writeMrStudy(dir, {
    slices: 1,
    name: `${name}-intruder`,
    patch: (s) => ({ ...s, studyUid: study.studyUid, overrides: { ...(s.overrides ?? {}), ...overrides } }),
  });
  return other.files[0]!;
}

function stowBody(files: string[]): { body: Buffer; contentType: string } {
  const boundary = newBoundary();
  return { body: buildMultipartBody(files.map((f) => readFileSync(f)), boundary), contentType: multipartContentType(boundary) };
}

describe('patient identity of a study (integration)', function () {
  this.timeout(60_000);
  let work: ReturnType<typeof tempDir>;
  let node: TestNode | undefined;
  beforeEach(() => {
    work = tempDir('npcai-identity-');
  });
  afterEach(async () => {
    await node?.cleanup();
    node = undefined;
    work.cleanup();
  });

  const start = (storage: Record<string, unknown> = {}) =>
    startTestNode({ dimse: { allowUnknownSources: true }, storage: { freeSpaceWatermarkMb: 0, ...storage } });

  it('refuses (default) an instance of another PatientID over DIMSE with 0xA9FE and an ErrorComment, and over STOW-RS with a failed SOP and its reason', async () => {
    node = await start();
    const study = writeMrStudy(path.join(work.dir, 'a'), { slices: 2, name: 'id-refuse' });
    assert.equal((await storescu(node.dimsePort, study.files)).code, 0);
    assert.equal(node.instances.listStudyInstances(study.studyUid).length, 6);

    const other = intruder(path.join(work.dir, 'b'), 'id-refuse', study, { '00100020': ['LO', 'OTHER-PATIENT'] });
    const sent = await storescu(node.dimsePort, [other], { extra: ['-d'] });
    assert.match(sent.output, /DIMSE Status\s*:\s*0xa9fe/i, sent.output);
    assert.match(sent.output, /patient identity differs from the study's \(PatientID\)/);
    assert.doesNotMatch(sent.output, /OTHER-PATIENT.*Error Comment/, 'the ErrorComment names no patient data');

    // STOW-RS: the same instance, and one with the right PatientID but another birth date.
    const otherBirth = intruder(path.join(work.dir, 'c'), 'id-refuse-birth', study, { '00100030': ['DA', '19010101'] });
    const { body, contentType } = stowBody([other, otherBirth]);
    const res = await node.api('/dicomweb/studies', { method: 'POST', body, headers: { 'content-type': contentType } });
    assert.equal(res.status, 409);
    const json = (await res.json()) as Record<string, { Value: Array<Record<string, { Value: unknown[] }>> }>;
    const failed = json['00081198']!.Value;
    assert.equal(failed.length, 2);
    assert.deepEqual(failed.map((f) => f['00081197']!.Value[0]), [0xa9fe, 0xa9fe]);
    assert.deepEqual(failed.map((f) => f['00000902']!.Value[0]).sort(), [
      "patient identity differs from the study's (PatientBirthDate)",
      "patient identity differs from the study's (PatientID)",
    ]);
    // Nothing of it is in the study (so nothing of it is analysed with it); the study's own instances stay.
    assert.equal(node.instances.listStudyInstances(study.studyUid).length, 6);
    const studies = (await (await node.api(`/api/v1/studies/${study.studyUid}`)).json()) as { instanceCount?: number } | Array<{ instanceCount: number }>;
    const count = Array.isArray(studies) ? studies[0]!.instanceCount : studies.instanceCount;
    assert.equal(count, 6);

    // The same patient with its birth date and sex unstated on the new instance is no mismatch.
    const same = intruder(path.join(work.dir, 'd'), 'id-refuse-same', study, { '00100030': null, '00100040': null });
    assert.equal((await storescu(node.dimsePort, [same])).code, 0);
    assert.equal(node.instances.listStudyInstances(study.studyUid).length, 7);
  });

  it('judges two first instances of a new study sent at once in order: one patient is kept, the other refused', async () => {
    node = await start();
    const a = writeMrStudy(path.join(work.dir, 'a'), { slices: 4, name: 'id-race' });
    const b = writeMrStudy(path.join(work.dir, 'b'), {
      slices: 4,
      name: 'id-race-b',
      patch: (s) => ({ ...s, studyUid: a.studyUid, overrides: { '00100020': ['LO', 'RACE-OTHER'] } }),
    });
    const [ra, rb] = await Promise.all([
      storescu(node.dimsePort, a.files, { aet: 'MODA', extra: ['-d'] }),
      storescu(node.dimsePort, b.files, { aet: 'MODB', extra: ['-d'] }),
    ]);
    const stored = node.instances.listStudyInstances(a.studyUid);
    const patients = new Set(stored.map((s) => s.header.PatientID));
    assert.equal(patients.size, 1, `one patient per study, got ${[...patients].join(', ')}`);
    const refused = (ra.output + rb.output).match(/DIMSE Status\s*:\s*0xa9fe/gi) ?? [];
    // storescu stops sending after a failed store, so the refused side may be refused once only.
    assert.equal(stored.length, 12, `${stored.length} stored, ${refused.length} refused`);
    assert.ok(refused.length >= 1);
  });

  it("quarantines a mismatched instance: shown by GET /api/v1/quarantine, never in the study, released into it or deleted", async () => {
    node = await start({ patientIdentityMismatch: 'quarantine' });
    const study = writeMrStudy(path.join(work.dir, 'a'), { slices: 1, name: 'id-quar' });
    assert.equal((await storescu(node.dimsePort, study.files)).code, 0);
    const one = intruder(path.join(work.dir, 'b'), 'id-quar-1', study, { '00100020': ['LO', 'Q1'] });
    const two = intruder(path.join(work.dir, 'c'), 'id-quar-2', study, { '00100040': ['CS', 'F'] });
    const sent = await storescu(node.dimsePort, [one, two]);
    assert.equal(sent.code, 0, 'held durably, so the sender is answered Success');
    assert.equal(node.instances.listStudyInstances(study.studyUid).length, 3);

    const list = (await (await node.api('/api/v1/quarantine')).json()) as { instances: Array<{ sopInstanceUid: string; studyInstanceUid: string; reason: string }> };
    assert.equal(list.instances.length, 2);
    assert.ok(list.instances.every((q) => q.studyInstanceUid === study.studyUid));
    assert.deepEqual(list.instances.map((q) => q.reason).sort(), ["PatientID differs from the study's", "PatientSex differs from the study's"]);
    const metrics = await (await node.api('/metrics')).text();
    assert.match(metrics, /npcai_quarantined_instances 2/);

    const [q1, q2] = list.instances.sort((x, y) => x.reason.localeCompare(y.reason));
    const released = await node.api(`/api/v1/quarantine/${q1!.sopInstanceUid}/release`, { method: 'POST' });
    assert.equal(released.status, 200, await released.clone().text());
    assert.equal(node.instances.listStudyInstances(study.studyUid).length, 4);
    assert.ok(node.instances.getInstance(q1!.sopInstanceUid));
    const del = await node.api(`/api/v1/quarantine/${q2!.sopInstanceUid}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal(node.instances.getInstance(q2!.sopInstanceUid), undefined);
    assert.equal(((await (await node.api('/api/v1/quarantine')).json()) as { instances: unknown[] }).instances.length, 0);
    assert.equal((await node.api(`/api/v1/quarantine/${q2!.sopInstanceUid}`, { method: 'DELETE' })).status, 404);
    assert.equal((await node.api('/api/v1/quarantine/not-a-uid/release', { method: 'POST' })).status, 400);
    assert.equal(existsSync(path.join(node.dataDir, 'quarantine', `${q2!.sopInstanceUid}.dcm`)), false);
  });

  it("accepts a correction from a trusted AE title and re-keys the study; 'accept-newest' does so for every sender", async () => {
    node = await start({ patientIdentityCorrectors: ['RIS-FIX'] });
    const study = writeMrStudy(path.join(work.dir, 'a'), { slices: 1, name: 'id-fix' });
    assert.equal((await storescu(node.dimsePort, study.files)).code, 0);
    const fixed = intruder(path.join(work.dir, 'b'), 'id-fix', study, { '00100020': ['LO', 'CORRECTED-ID'] });
    const untrusted = await storescu(node.dimsePort, [fixed], { aet: 'MODALITY', extra: ['-d'] });
    assert.match(untrusted.output, /0xa9fe/i);
    assert.equal((await storescu(node.dimsePort, [fixed], { aet: 'RIS-FIX' })).code, 0);
    const row = node.db.prepare('SELECT patient_id FROM studies WHERE study_instance_uid = ?').get(study.studyUid) as { patient_id: string };
    assert.equal(row.patient_id, 'CORRECTED-ID');
    // From now on the corrected identity is the study's: the old one is the mismatch.
    const old = intruder(path.join(work.dir, 'c'), 'id-fix-old', study, {});
    assert.match((await storescu(node.dimsePort, [old], { aet: 'MODALITY', extra: ['-d'] })).output, /0xa9fe/i);
    await node.cleanup();

    node = await start({ patientIdentityMismatch: 'accept-newest' });
    const s2 = writeMrStudy(path.join(work.dir, 'd'), { slices: 1, name: 'id-newest' });
    assert.equal((await storescu(node.dimsePort, s2.files)).code, 0);
    const newer = intruder(path.join(work.dir, 'e'), 'id-newest', s2, { '00100020': ['LO', 'NEWEST-ID'] });
    assert.equal((await storescu(node.dimsePort, [newer])).code, 0);
    const r2 = node.db.prepare('SELECT patient_id FROM studies WHERE study_instance_uid = ?').get(s2.studyUid) as { patient_id: string };
    assert.equal(r2.patient_id, 'NEWEST-ID');
  });
});
