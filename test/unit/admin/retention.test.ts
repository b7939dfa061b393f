/**
 * Retention with a fake clock: which studies keep their received instances (receiving, analysis or
 * delivery pending or failed) and which go after their age (delivered, or no destination); results after
 * theirs; the 'purged' events; the free-space check's states. Then once on the real node-cron scheduler.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openDatabase, type Db } from '../../../src/store/database';
import { InstanceStore } from '../../../src/store/instance-store';
import { StudyRepository } from '../../../src/assemble/study-repository';
import { JobStore } from '../../../src/jobs/job-store';
import { RetentionService, type PurgedEvent } from '../../../src/admin/retention';
import { RetentionSchema } from '../../../src/config/schema';
import { silentLogger } from '../../../src/logging/logger';
import { FakeClock } from '../../helpers/fake-clock';
import { tempDir } from '../../helpers/temp-dir';

const HOUR = 3600_000;
const AE = 'NPCAI';

interface Fixture {
  db: Db;
  dir: string;
  studies: StudyRepository;
  jobs: JobStore;
  instances: InstanceStore;
}

let uidSeq = 0;
const newUid = () => `1.2.826.0.1.3680043.10.999.${process.pid}.${++uidSeq}`;

/** A complete study reception with `n` instance files, received at `at`, and its analysis job in `analysis` state. */
function study(f: Fixture, at: number, opts: { analysis?: string; deliveries?: string[]; state?: 'receiving' | 'complete'; n?: number } = {}) {
  const uid = newUid();
  const series = newUid();
  const accession = `ACC-${uidSeq}`;
  const iso = new Date(at).toISOString();
  f.studies.insertReceiving({ studyInstanceUid: uid, calledAeTitle: AE, callingAeTitle: 'MOD', patientId: 'P1', firstReceivedAt: iso, lastReceivedAt: iso, generation: 0 });
  const files: string[] = [];
  for (let i = 0; i < (opts.n ?? 2); i++) {
    const sop = newUid();
    const rel = path.join('instances', uid, series, `${sop}.dcm`);
    mkdirSync(path.dirname(path.join(f.dir, rel)), { recursive: true });
    writeFileSync(path.join(f.dir, rel), Buffer.alloc(1000));
    files.push(path.join(f.dir, rel));
    f.db
      .prepare(
        `INSERT INTO instances (sop_instance_uid, sop_class_uid, study_instance_uid, series_instance_uid, transfer_syntax_uid, called_ae_title,
           calling_ae_title, path, size, sha256, received_at, header_json) VALUES (?, '1.2.840.10008.5.1.4.1.1.4', ?, ?, '1.2.840.10008.1.2.1', ?, 'MOD', ?, 1000, 'x', ?, ?)`,
      )
      .run(sop, uid, series, AE, rel, iso, JSON.stringify({ AccessionNumber: accession, PatientName: 'must not matter' }));
  }
  if ((opts.state ?? 'complete') === 'complete') f.studies.markComplete({ studyInstanceUid: uid, calledAeTitle: AE }, 0, iso, 'quiet');
  let analysisId: number | undefined;
  if (opts.analysis) {
    analysisId = f.jobs.createAnalysisJob({ studyInstanceUid: uid, calledAeTitle: AE, generation: 0 }).id;
    f.db.prepare('UPDATE jobs SET state = ? WHERE id = ?').run(opts.analysis, analysisId);
  }
  for (const [i, state] of (opts.deliveries ?? []).entries()) {
    const id = f.jobs.create({ kind: 'delivery', studyInstanceUid: uid, calledAeTitle: AE, parentJobId: analysisId ?? null, destination: `pacs${i}` }).id;
    f.db.prepare('UPDATE jobs SET state = ? WHERE id = ?').run(state, id);
  }
  return { uid, files, accession };
}

function fixture(dir: string): Fixture {
  const db = openDatabase(dir);
  const instances = new InstanceStore({ db, dataDir: dir, logger: silentLogger(), fsync: false, conflictPolicy: 'reject', freeSpaceWatermarkMb: 0, acceptedTransferSyntaxes: ['1.2.840.10008.1.2.1'] });
  return { db, dir, studies: new StudyRepository(db), jobs: new JobStore(db), instances };
}

describe('RetentionService', () => {
  let t: ReturnType<typeof tempDir>;
  let f: Fixture;
  beforeEach(() => {
    t = tempDir('npcai-retention-');
    f = fixture(t.dir);
  });
  afterEach(async () => {
    await f.instances.close();
    f.db.close();
    t.cleanup();
  });

  it('purges delivered studies after their age and keeps undelivered and in-flight ones, saying why', async () => {
    const clock = new FakeClock(Date.now());
    const t0 = clock.now();
    const delivered = study(f, t0, { analysis: 'done', deliveries: ['done', 'done'] });
    const noDestination = study(f, t0, { analysis: 'done' });
    const deliveryQueued = study(f, t0, { analysis: 'done', deliveries: ['done', 'queued'] });
    const deliveryDead = study(f, t0, { analysis: 'done', deliveries: ['dead'] });
    const analysisRunning = study(f, t0, { analysis: 'running' });
    const analysisFailed = study(f, t0, { analysis: 'dead' });
    const receiving = study(f, t0, { state: 'receiving' });
    const svc = new RetentionService({ config: RetentionSchema.parse({ receivedHours: 1.5, resultsHours: 0 }), freeSpaceWatermarkMb: 0, dataDir: t.dir, studies: f.studies, jobs: f.jobs, instances: f.instances, logger: silentLogger(), clock });
    const events: PurgedEvent[] = [];
    svc.on('purged', (e) => events.push(e));

    clock.advance(1 * HOUR);
    const early = await svc.run();
    assert.deepEqual(early.received.purged, [], 'nothing is due before 1.5 h');
    assert.ok(delivered.files.every((p) => existsSync(p)));

    clock.advance(1 * HOUR);
    const r = await svc.run();
    assert.deepEqual(r.received.purged.map((p) => p.studyInstanceUid).sort(), [delivered.uid, noDestination.uid].sort());
    assert.equal(r.bytesFreed, 4000);
    const why = new Map(r.received.kept.map((k) => [k.studyInstanceUid, k.reason]));
    assert.match(why.get(deliveryQueued.uid)!, /delivery is queued or running/);
    assert.match(why.get(deliveryDead.uid)!, /delivery not done: pacs0 dead/);
    assert.match(why.get(analysisRunning.uid)!, /analysis is queued or running/);
    assert.match(why.get(analysisFailed.uid)!, /analysis is dead/);
    assert.equal(why.has(receiving.uid), false, 'a receiving study is not a candidate at all');

    for (const p of delivered.files) assert.equal(existsSync(p), false);
    for (const p of deliveryQueued.files) assert.equal(existsSync(p), true);
    assert.equal(f.instances.listStudyInstances(delivered.uid).length, 0);
    assert.equal(f.instances.listStudyInstances(deliveryQueued.uid).length, 2);
    const rec = f.studies.get({ studyInstanceUid: delivered.uid, calledAeTitle: AE })!;
    assert.equal(rec.purgedAt, new Date(clock.now()).toISOString());
    assert.equal(rec.state, 'complete');

    assert.deepEqual(
      events.map((e) => [e.kind, e.studyInstanceUid, e.accessionNumber, e.files, e.bytes]).sort(),
      [
        ['received', delivered.uid, delivered.accession, 2, 2000],
        ['received', noDestination.uid, noDestination.accession, 2, 2000],
      ].sort(),
    );
    assert.ok(events.every((e) => !JSON.stringify(e).includes('must not matter')), 'no patient data in the event');

    // Once the queued delivery is done, that study goes at the next run; a purged one is not purged twice.
    f.db.prepare("UPDATE jobs SET state = 'done' WHERE study_instance_uid = ? AND kind = 'delivery'").run(deliveryQueued.uid);
    const again = await svc.run();
    assert.deepEqual(again.received.purged.map((p) => p.studyInstanceUid), [deliveryQueued.uid]);

    // A resend is a new arrival: reopening the study starts a new generation and clears purged_at.
    assert.equal(f.studies.reopen({ studyInstanceUid: delivered.uid, calledAeTitle: AE }, new Date(clock.now()).toISOString(), 0), true);
    const reopened = f.studies.get({ studyInstanceUid: delivered.uid, calledAeTitle: AE })!;
    assert.deepEqual([reopened.state, reopened.generation, reopened.purgedAt], ['receiving', 1, null]);
  });

  it('keeps everything when the hours are 0', async () => {
    const clock = new FakeClock(Date.now());
    study(f, clock.now(), { analysis: 'done', deliveries: ['done'] });
    const svc = new RetentionService({ config: RetentionSchema.parse({ receivedHours: 0, resultsHours: 0 }), freeSpaceWatermarkMb: 0, dataDir: t.dir, studies: f.studies, jobs: f.jobs, instances: f.instances, logger: silentLogger(), clock });
    clock.advance(10_000 * HOUR);
    const r = await svc.run();
    assert.deepEqual([r.received.purged.length, r.results.purged.length, r.bytesFreed], [0, 0, 0]);
  });

  it('purges result files after resultsHours unless a delivery is pending, and sweeps stale temp files', async () => {
    const clock = new FakeClock(Date.now());
    const done = study(f, clock.now(), { analysis: 'done', deliveries: ['done'] });
    const pending = study(f, clock.now(), { analysis: 'done', deliveries: ['running'] });
    const write = (uid: string, name: string) => {
      const p = path.join(t.dir, 'results', uid, name);
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, Buffer.alloc(500));
      return p;
    };
    const sr = write(done.uid, '1.2.3.dcm');
    write(pending.uid, '1.2.4.dcm');
    const tmp = write(pending.uid, '1.2.5.dcm.tmp-1-2-0');
    const old = new Date(clock.now() - 2 * HOUR);
    utimesSync(tmp, old, old);
    const svc = new RetentionService({ config: RetentionSchema.parse({ receivedHours: 0, resultsHours: 3 }), freeSpaceWatermarkMb: 0, dataDir: t.dir, studies: f.studies, jobs: f.jobs, instances: f.instances, logger: silentLogger(), clock });
    const events: PurgedEvent[] = [];
    svc.on('purged', (e) => events.push(e));
    clock.advance(2 * HOUR);
    const first = await svc.run();
    assert.deepEqual([first.results.purged.length, first.results.tempFilesRemoved], [0, 1]);
    assert.equal(existsSync(tmp), false);
    clock.advance(2 * HOUR);
    const r = await svc.run();
    assert.deepEqual(r.results.purged.map((p) => [p.studyInstanceUid, p.files, p.bytes]), [[done.uid, 1, 500]]);
    assert.match(r.results.kept.find((k) => k.studyInstanceUid === pending.uid)!.reason, /delivery queued or running/);
    assert.equal(existsSync(sr), false);
    assert.deepEqual(events.map((e) => e.kind), ['results']);
    assert.ok(f.studies.get({ studyInstanceUid: done.uid, calledAeTitle: AE })!.resultsPurgedAt);
  });

  it('warns before the watermark (below 2x) and says when it is reached', async () => {
    let free = 10 * 1024 * 1024 * 1024;
    const svc = new RetentionService({
      config: RetentionSchema.parse({}),
      freeSpaceWatermarkMb: 1024,
      dataDir: t.dir,
      studies: f.studies,
      jobs: f.jobs,
      instances: f.instances,
      logger: silentLogger(),
      freeBytes: async () => free,
    });
    assert.equal((await svc.checkFreeSpace()).state, 'ok');
    free = 1.5 * 1024 * 1024 * 1024;
    const w = await svc.checkFreeSpace();
    assert.deepEqual([w.state, w.warnBelowBytes], ['warning', 2 * 1024 * 1024 * 1024]);
    free = 0.5 * 1024 * 1024 * 1024;
    assert.equal((await svc.checkFreeSpace()).state, 'below-watermark');
    assert.equal(svc.lastFreeSpace?.state, 'below-watermark');
  });

  it('runs on the real node-cron scheduler (every second) and purges a delivered study of short age', async function () {
    this.timeout(20_000);
    const s = study(f, Date.now(), { analysis: 'done', deliveries: ['done'] });
    // 1.8 s of age, checked every second.
    const svc = new RetentionService({ config: RetentionSchema.parse({ receivedHours: 0.0005, resultsHours: 0, schedule: '* * * * * *' }), freeSpaceWatermarkMb: 0, dataDir: t.dir, studies: f.studies, jobs: f.jobs, instances: f.instances, logger: silentLogger() });
    const purged = new Promise<PurgedEvent>((resolve) => svc.once('purged', resolve));
    const started = Date.now();
    svc.start();
    try {
      const e = await Promise.race([purged, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no purge within 10 s')), 10_000))]);
      assert.equal(e.studyInstanceUid, s.uid);
      assert.ok(Date.now() - started >= 1000, 'not before its age');
      assert.ok(s.files.every((p) => !existsSync(p)));
      assert.ok(svc.lastFreeSpace, 'the free-space check ran on the schedule too');
    } finally {
      await svc.stop();
    }
  });
});
