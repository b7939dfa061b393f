/**
 * The node as a real process, killed (-9) or stopped (SIGTERM) while storescu is sending: whatever was
 * answered Success survives, byte for byte and indexed; nothing partial is left; a re-send completes the
 * study once.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from '../../helpers/temp-dir';
import { datasetBytes, writeMrStudy, type MrStudy } from '../../helpers/mr-fixture';
import { followStorescu, startNodeProcess, type NodeProcess } from '../../helpers/node-process';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

const CONFIG = {
  sources: [{ aeTitle: 'STORESCU' }],
  localAeTitles: [{ aeTitle: 'NPCAI', completion: { quietSeconds: 1, forceCompleteSeconds: 30 } }],
};

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

interface Row {
  sop_instance_uid: string;
  path: string;
  sha256: string;
}

function indexedRows(dataDir: string): Map<string, Row> {
  const db = new Database(path.join(dataDir, 'node.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT sop_instance_uid, path, sha256 FROM instances').all() as Row[];
    return new Map(rows.map((r) => [r.sop_instance_uid, r]));
  } finally {
    db.close();
  }
}

/** SOP Instance UID (0008,0018) of an explicit VR little endian fixture file. */
function sopOf(file: string): string {
  const m = /\x08\x00\x18\x00UI..([0-9.]+)/s.exec(datasetBytes(readFileSync(file)).toString('latin1'));
  assert.ok(m, `no SOP Instance UID in ${file}`);
  return m[1]!;
}

/** Every acknowledged file is indexed and its stored data set is the one sent. */
function assertAcknowledgedDurable(dataDir: string, acknowledged: string[]): Map<string, Row> {
  const rows = indexedRows(dataDir);
  for (const f of acknowledged) {
    const sop = sopOf(f);
    const row = rows.get(sop);
    assert.ok(row, `acknowledged ${path.basename(path.dirname(f))}/${path.basename(f)} (${sop}) is not indexed`);
    const stored = readFileSync(path.join(dataDir, row.path));
    assert.equal(sha(stored), row.sha256, `${sop}: file differs from its index row`);
    assert.equal(sha(datasetBytes(stored)), sha(datasetBytes(readFileSync(f))), `${sop}: stored data set differs from the one sent`);
  }
  return rows;
}

async function waitForStoredFiles(dir: string, n: number): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (filesUnder(dir).filter((f) => f.endsWith('.dcm')).length >= n) return;
    await sleep(5);
  }
  throw new Error(`fewer than ${n} instances stored`);
}

async function analysisJobs(node: NodeProcess, studyUid: string): Promise<Array<{ id: number; generation: number; state: string }>> {
  const r = await node.api(`/api/v1/jobs?study=${studyUid}&kind=analysis`);
  assert.equal(r.status, 200);
  return (await r.json()) as Array<{ id: number; generation: number; state: string }>;
}

describe('receive crash safety (node as a child process)', function () {
  this.timeout(90000);
  let work: { dir: string; cleanup: () => void };
  let node: NodeProcess | undefined;
  let study: MrStudy;

  before(() => {
    work = tempDir('npcai-crash-');
    // 90 instances of 0.5 MiB: long enough to be interrupted, short enough to re-send in a second or two.
    study = writeMrStudy(path.join(work.dir, 'study'), { slices: 30, rows: 512, columns: 512, name: 'crash' });
  });
  afterEach(async () => {
    if (node && node.child.exitCode === null && node.child.signalCode === null) {
      node.child.kill('SIGKILL');
      await node.exited;
    }
    node = undefined;
  });
  after(() => work.cleanup());

  it('keeps every acknowledged instance through kill -9 mid-send, leaves nothing partial, and completes once after the re-send', async () => {
    const dataDir = path.join(work.dir, 'data-kill');
    node = await startNodeProcess(work.dir, dataDir, CONFIG, 'kill');
    const send = followStorescu(node.dimsePort, study.files);
    // storescu's log reaches us in bursts, so the kill is timed by what the node has stored (20 instances).
    await waitForStoredFiles(path.join(dataDir, 'instances'), 20);
    node.child.kill('SIGKILL');
    assert.equal(await node.exited, 'SIGKILL');
    await send.done;
    const acknowledged = [...send.acknowledged];
    assert.ok(acknowledged.length < study.files.length, 'the kill came after the whole send; nothing was interrupted');

    // Before any restart: acknowledged instances are already durable and indexed.
    assertAcknowledgedDurable(dataDir, acknowledged);

    node = await startNodeProcess(work.dir, dataDir, CONFIG, 'kill');
    const rows = assertAcknowledgedDurable(dataDir, acknowledged);
    // No temp or partial file is left, and every file in the instances tree is an indexed instance.
    assert.deepEqual(filesUnder(path.join(dataDir, 'spool')), []);
    const indexedPaths = new Set([...rows.values()].map((r) => path.join(dataDir, r.path)));
    for (let f of filesUnder(path.join(dataDir, 'instances'))) {
      // An instance's ingress record (receiving AE title, ingress) sits beside it; none without its instance.
      if (f.endsWith('.ingress.json')) f = f.replace(/\.ingress\.json$/, '.dcm');
      assert.ok(f.endsWith('.dcm'), `stray file ${path.relative(dataDir, f)}`);
      assert.ok(indexedPaths.has(f), `unindexed file ${path.relative(dataDir, f)}`);
    }
    const detail = await node.api(`/api/v1/studies/${study.studyUid}`);
    assert.equal(detail.status, 200);
    const view = (await detail.json()) as { state: string; instanceCount: number };
    assert.equal(view.state, 'receiving');
    assert.ok(view.instanceCount >= acknowledged.length);
    assert.deepEqual(await analysisJobs(node, study.studyUid), [], 'an incomplete study must not be analysed');

    // The sender re-sends everything (as a PACS does after a broken association).
    const again = followStorescu(node.dimsePort, study.files);
    const second = await again.done;
    assert.equal(second.code, 0, second.output.slice(-1500));
    assert.equal(again.acknowledged.length, study.files.length);
    assert.equal(indexedRows(dataDir).size, study.files.length);
    let jobs: Awaited<ReturnType<typeof analysisJobs>> = [];
    for (let i = 0; i < 100 && jobs.length === 0; i++) {
      await sleep(100);
      jobs = await analysisJobs(node, study.studyUid);
    }
    assert.equal(jobs.length, 1, 'one analysis job after completion');
    await sleep(1500);
    jobs = await analysisJobs(node, study.studyUid);
    assert.equal(jobs.length, 1, 'still exactly one analysis job');
    assert.equal(jobs[0]!.generation, 0);
    assertAcknowledgedDurable(dataDir, study.files);
  });

  it('stops on SIGTERM during a send with exit status 0, losing nothing it acknowledged', async () => {
    const dataDir = path.join(work.dir, 'data-term');
    node = await startNodeProcess(work.dir, dataDir, CONFIG, 'term');
    const send = followStorescu(node.dimsePort, study.files);
    await waitForStoredFiles(path.join(dataDir, 'instances'), 10);
    node.child.kill('SIGTERM');
    const code = await Promise.race([node.exited, sleep(30000).then(() => 'still running after 30 s')]);
    assert.equal(code, 0, node.output().slice(-2000));
    await send.done;
    const acknowledged = [...send.acknowledged];
    assert.ok(acknowledged.length >= 10);
    assertAcknowledgedDurable(dataDir, acknowledged);
    // A graceful stop leaves no temp file behind either (an unanswered partial instance is discarded).
    assert.deepEqual(
      filesUnder(path.join(dataDir, 'spool')).map((f) => path.relative(dataDir, f)),
      [],
    );
  });
});
