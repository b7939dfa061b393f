/**
 * End to end with Orthanc as the hospital PACS: Orthanc sends a study to the node, the node analyses it and
 * returns its SR and Grad-CAM heat maps to Orthanc (C-STORE, and STOW-RS to Orthanc's DICOMweb endpoint);
 * the test reads them back through Orthanc's REST API and checks references, values and patient data.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startTestNode, type TestNode } from '../helpers/test-node';
import { tempDir } from '../helpers/temp-dir';
import { startOrthanc, orthancUpload, orthancSendStudy, orthancListInstances, orthancGetTags, type Orthanc } from '../helpers/orthanc';
import { writeSyntheticPatient } from '../helpers/synthetic-study';
import { waitFor } from '../helpers/wait-for';
import { SopClass } from '../../src/dicom/uids';

const FIXTURE_MODELS = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'models');
/** A seed whose synthetic patient has an ideographic (Chinese) name: Yang^Jun=杨^军. */
const CHINESE_NAME_SEED = 4246;

/** Orthanc's simplified tags: keyword -> value (sequences as arrays of the same). */
type Tags = Record<string, unknown>;
const tag = (t: Tags, keyword: string) => t[keyword];

describe('end to end with Orthanc as the PACS', function () {
  this.timeout(240_000);
  let orthanc: Orthanc;
  let node: TestNode;
  let t: ReturnType<typeof tempDir>;
  afterEach(async () => {
    await node?.cleanup();
    await orthanc?.cleanup();
    t?.cleanup();
  });

  async function roundTrip(destination: (o: Orthanc) => Record<string, unknown>) {
    t = tempDir('npcai-e2e-');
    orthanc = await startOrthanc({ aeTitle: 'ORTHANC' });
    const study = await writeSyntheticPatient(t.dir, CHINESE_NAME_SEED);
    for (const f of await study.files()) await orthancUpload(orthanc, readFileSync(f));
    node = await startTestNode({
      models: { dir: FIXTURE_MODELS },
      sources: [{ aeTitle: 'ORTHANC', host: '127.0.0.1' }],
      destinations: [destination(orthanc)],
      localAeTitles: [{ aeTitle: 'NPCAI', destinations: ['pacs'], completion: { quietSeconds: 1, forceCompleteSeconds: 30 } }],
      delivery: { initialBackoffSeconds: 0.2, maxBackoffSeconds: 1 },
    });
    const mrCount = (await orthancListInstances(orthanc, study.studyInstanceUid)).length;
    await orthancSendStudy(orthanc, { aeTitle: 'NPCAI', host: '127.0.0.1', port: node.dimsePort }, study.studyInstanceUid);
    const delivered = await waitFor(async () => {
      const jobs = (await (await node.api(`/api/v1/jobs?kind=delivery&study=${study.studyInstanceUid}`)).json()) as { state: string }[];
      return jobs.length && jobs.every((j) => j.state === 'done') ? jobs : undefined;
    }, 'delivery to Orthanc', 120_000);
    assert.equal(delivered.length, 1);
    const all = await orthancListInstances(orthanc, study.studyInstanceUid);
    const ours = await Promise.all(
      all.map(async (i) => ({ i, tags: (await orthancGetTags(orthanc, i.id)) as Tags })),
    ).then((xs) => xs.filter((x) => tag(x.tags, 'Modality') !== 'MR'));
    return { study, mrCount, ours };
  }

  function checkReturnedObjects(study: { studyInstanceUid: string; patientId: string }, ours: { tags: Tags }[]) {
    const sr = ours.filter((x) => tag(x.tags, 'Modality') === 'SR');
    const sc = ours.filter((x) => tag(x.tags, 'Modality') === 'OT');
    assert.equal(sr.length, 1, 'one SR in the PACS');
    assert.equal(sc.length, 4, 'one heat map per scored analysis in the PACS');
    assert.equal(ours.filter((x) => tag(x.tags, 'Modality') === 'SEG').length, 1, 'the localiser\'s SEG in the PACS');
    const s = sr[0]!.tags;
    assert.equal(tag(s, 'SOPClassUID'), SopClass.Comprehensive3dSr);
    assert.equal(tag(s, 'StudyInstanceUID'), study.studyInstanceUid, 'the SR joins the MR study');
    assert.equal(tag(s, 'PatientID'), study.patientId);
    assert.equal(tag(s, 'PatientName'), 'Yang^Jun=杨^军', 'the Chinese name arrives intact');
    assert.equal(tag(s, 'SpecificCharacterSet'), 'ISO_IR 192');
    assert.equal(tag(s, 'CompletionFlag'), 'COMPLETE');
    assert.equal(tag(s, 'VerificationFlag'), 'UNVERIFIED');
    // Evidence: every referenced MR instance is one the PACS holds.
    const evidence = tag(s, 'CurrentRequestedProcedureEvidenceSequence') as Tags[];
    const refs = evidence.flatMap((st) => (tag(st, 'ReferencedSeriesSequence') as Tags[]).flatMap((se) => (tag(se, 'ReferencedSOPSequence') as Tags[]).map((x) => tag(x, 'ReferencedSOPInstanceUID') as string)));
    assert.ok(refs.length > 0);
    const text = JSON.stringify(s);
    for (const want of ['AJCC stage', 'DMFS', 'MSOM', 'Residual', 'Research use', 'not assessable']) assert.ok(text.toLowerCase().includes(want.toLowerCase()), `SR mentions ${want}`);
    for (const x of sc) {
      assert.equal(tag(x.tags, 'BurnedInAnnotation'), 'YES');
      assert.equal(tag(x.tags, 'PatientName'), 'Yang^Jun=杨^军');
      const src = tag(x.tags, 'SourceImageSequence') as Tags[];
      assert.ok(refs.includes(tag(src[0]!, 'ReferencedSOPInstanceUID') as string), 'the heat map points at an MR slice in the PACS');
    }
    return refs;
  }

  it('Orthanc sends a study; the node returns SR and heat maps by C-STORE, readable with the right references and names', async () => {
    const { study, mrCount, ours } = await roundTrip((o) => ({ name: 'pacs', type: 'dimse', aeTitle: 'ORTHANC', host: '127.0.0.1', port: o.dicomPort }));
    const refs = checkReturnedObjects(study, ours);
    const mrs = (await orthancListInstances(orthanc, study.studyInstanceUid)).length - ours.length;
    assert.equal(mrs, mrCount, 'the MR instances are untouched');
    assert.ok(refs.length <= mrCount);
  });

  it('returns the same objects through STOW-RS to Orthanc\'s DICOMweb endpoint', async () => {
    const { study, ours } = await roundTrip((o) => ({ name: 'pacs', type: 'dicomweb', url: o.dicomWebUrl }));
    checkReturnedObjects(study, ours);
  });
});
