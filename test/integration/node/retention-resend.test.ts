/**
 * Retention through a running node with a fake clock: a study received over DIMSE whose analysis ended with
 * no destination is purged by POST /api/v1/maintenance/retention after its age (files and index rows gone,
 * the study marked purged), and sending it again is a new arrival that reopens it as a new generation.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { writeMrStudy } from '../../helpers/mr-fixture';
import { storescu } from '../../helpers/dicom-peers';
import { waitFor } from '../../helpers/wait-for';
import { FakeClock } from '../../helpers/fake-clock';

describe('retention and resend through a running node (integration)', function () {
  this.timeout(120_000);
  let node: TestNode;
  let work: ReturnType<typeof tempDir>;
  const clock = new FakeClock(Date.now());
  before(async () => {
    work = tempDir('npcai-retention-node-');
    node = await startTestNode(
      { dimse: { allowUnknownSources: true }, localAeTitles: [{ aeTitle: 'NPCAI', completion: { quietSeconds: 1, forceCompleteSeconds: 2 } }], retention: { receivedHours: 24, resultsHours: 0 } },
      { retentionClock: clock },
    );
  });
  after(async () => {
    await node?.cleanup();
    work?.cleanup();
  });

  it('purges a study whose analysis ended after its age, and a resend starts a new cycle', async () => {
    const study = writeMrStudy(path.join(work.dir, 'study'), { slices: 2 });
    const r = await storescu(node.dimsePort, study.files);
    assert.equal(r.code, 0, r.output);
    const key = { studyInstanceUid: study.studyUid, calledAeTitle: 'NPCAI' };
    const job = await waitFor(() => {
      const j = node.jobs.findAnalysisJob(study.studyUid, 'NPCAI', 0);
      return j && !['queued', 'running'].includes(j.state) ? j : undefined;
    }, 'the analysis to end', 60_000);
    // Without models here the analysis cannot succeed; retention keeps a study whose analysis did not.
    const api = async () => (await (await node.api('/api/v1/maintenance/retention', { method: 'POST' })).json()) as { received: { purged: { studyInstanceUid: string; files: number }[]; kept: { studyInstanceUid: string; reason: string }[] }; bytesFreed: number };
    clock.advance(25 * 3600_000);
    if (job.state !== 'done') {
      const kept = await api();
      assert.match(kept.received.kept.find((k) => k.studyInstanceUid === study.studyUid)!.reason, /analysis is (dead|failed)/);
      node.db.prepare("UPDATE jobs SET state = 'done' WHERE id = ?").run(job.id); // as if it had succeeded, no destination
    }
    const stored = node.instances.listStudyInstances(study.studyUid);
    assert.equal(stored.length, study.files.length);
    const report = await api();
    assert.deepEqual(report.received.purged.map((p) => [p.studyInstanceUid, p.files]), [[study.studyUid, study.files.length]]);
    assert.ok(report.bytesFreed > 0);
    assert.equal(node.instances.listStudyInstances(study.studyUid).length, 0);
    assert.ok(stored.every((i) => !existsSync(i.path)));
    const listed = (await (await node.api(`/api/v1/studies/${study.studyUid}`)).json()) as { purgedAt: string | null; state: string };
    assert.equal(listed.purgedAt, new Date(clock.now()).toISOString());

    // The same instances again: accepted as new, the study reopens as generation 1, no longer purged.
    const again = await storescu(node.dimsePort, study.files);
    assert.equal(again.code, 0, again.output);
    await waitFor(() => (node.assembler.studies.get(key)?.generation === 1 ? true : undefined), 'the study to reopen', 20_000);
    const reopened = node.assembler.studies.get(key)!;
    assert.equal(reopened.purgedAt, null);
    assert.equal(node.instances.listStudyInstances(study.studyUid).length, study.files.length);
    await waitFor(() => (node.jobs.findAnalysisJob(study.studyUid, 'NPCAI', 1) ? true : undefined), 'a new analysis job', 30_000);
  });
});
